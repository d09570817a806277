/**
 * The README's option tables are the users' reference: each must list
 * exactly the fields of the type it documents, read from the declarations
 * themselves with the TypeScript compiler, so a new option cannot ship
 * undocumented and a removed one cannot linger.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8')

const ENTRIES = ['plugin/index.ts', 'plugin/runtime/index.ts', 'testing/index.ts']
// One program for every entry: type-checking the imports (Vite's, Koa's, Playwright's) is the slow part.
let program: ts.Program | undefined

/** The property names of each exported type of `entry`, as the compiler sees them (inherited ones included). */
function exportedFields(entry: string, names: string[]): Record<string, string[]> {
  const file = path.join(ROOT, entry)
  program ??= ts.createProgram(
    ENTRIES.map((e) => path.join(ROOT, e)),
    {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      allowImportingTsExtensions: true,
      noEmit: true,
      strict: true,
      skipLibCheck: true,
      types: [],
    },
  )
  const checker = program.getTypeChecker()
  const source = program.getSourceFile(file)
  const module = source && checker.getSymbolAtLocation(source)
  if (!module) throw new Error(`cannot read ${entry}`)
  const exports = checker.getExportsOfModule(module)
  return Object.fromEntries(
    names.map((name) => {
      const symbol = exports.find((s) => s.name === name)
      if (!symbol) throw new Error(`${entry} exports no ${name}`)
      // An entry re-exports (an alias); the file that declares a type does not.
      const declared = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol
      const type = checker.getDeclaredTypeOfSymbol(declared)
      return [
        name,
        type
          .getProperties()
          .map((p) => p.name)
          .sort(),
      ]
    }),
  )
}

/** The first column of every table in the README section `heading`, one list per table. */
function tablesUnder(heading: string): string[][] {
  const start = README.indexOf(`\n## ${heading}\n`)
  if (start === -1) throw new Error(`README has no section '${heading}'`)
  const end = README.indexOf('\n## ', start + 1)
  const tables: string[][] = []
  let current: string[] | undefined
  for (const line of README.slice(start, end === -1 ? undefined : end).split('\n')) {
    const cell = /^\| `([A-Za-z]+)`\s*\|/.exec(line)
    if (cell?.[1]) (current ??= []).push(cell[1])
    else if (!line.startsWith('|')) {
      if (current) tables.push(current.sort())
      current = undefined
    }
  }
  if (current) tables.push(current.sort())
  return tables
}

// Building the program reads Vite's and Koa's declarations: seconds, more on a busy machine.
describe('README option tables', { timeout: 120_000 }, () => {
  it('list exactly the Vite plugin options', () => {
    const { EmbedsPluginOptions } = exportedFields('plugin/index.ts', ['EmbedsPluginOptions'])
    expect(tablesUnder('Vite plugin options')[0]).toEqual(EmbedsPluginOptions)
  })

  it('list exactly the middleware options and each built-in vendor’s', () => {
    const fields = exportedFields('plugin/runtime/index.ts', [
      'EmbedsMiddlewareOptions',
      'ReturningProxyOptions',
      'ReturningSdkOptions',
      'CarameloOptions',
    ])
    expect(tablesUnder('Runtime options')).toEqual([
      fields['EmbedsMiddlewareOptions'],
      fields['ReturningProxyOptions'],
      fields['ReturningSdkOptions'],
      fields['CarameloOptions'],
    ])
  })

  // The table above is checked against every field `embeds()` takes, its own and those it inherits.
  it('check the middleware table against the inherited options too', () => {
    const { EmbedsMiddlewareOptions } = exportedFields('plugin/runtime/index.ts', ['EmbedsMiddlewareOptions'])
    const { EmbedsOptions } = exportedFields('plugin/runtime/options.ts', ['EmbedsOptions'])
    const { MetricsRouteOptions } = exportedFields('plugin/runtime/koa/metrics-route.ts', ['MetricsRouteOptions'])
    const inherited = [...(EmbedsOptions ?? []), ...(MetricsRouteOptions ?? [])]
    expect(inherited).toEqual(expect.arrayContaining(['vendors', 'timeoutMs', 'metricsPath', 'metricsToken']))
    expect(EmbedsMiddlewareOptions).toEqual(
      expect.arrayContaining([...inherited, 'templates', 'user', 'locals', 'stream']),
    )
  })

  it('list exactly the testing kit’s options', () => {
    const { EmbedsOptions } = exportedFields('testing/index.ts', ['EmbedsOptions'])
    expect(tablesUnder('Prove it in your app')).toEqual([EmbedsOptions])
  })
})
