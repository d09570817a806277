/**
 * Turns an Eta template with directives into an ES module. Pure: no I/O.
 *
 * Each directive becomes, in Eta's own compiled output, a call that *starts*
 * resolving the directive and returns a placeholder at once; the runtime
 * awaits every started directive after the template has run and swaps the
 * placeholders for their HTML. That keeps Eta's text semantics untouched
 * (whitespace trimming, blocks, layouts) and lets all of a page's vendor calls
 * run concurrently.
 *
 * The module is precompiled: no template parsing and no `new Function` happen
 * at request time, so pages render under a CSP without `unsafe-eval`.
 */
import { Eta, EtaParseError } from 'eta/core'
import { HOST_OPTION, type DirectiveInfo, type TemplateMeta } from '../template-module.ts'
import { BUILTIN_VOCABULARY } from '../vendors/registry.ts'
import type { Vocabulary } from '../vendors/vocabulary.ts'
import { compileError, LineMap } from './location.ts'
import { parse, type Directive, type Segment } from './parse.ts'
import { findReferences, unconditionalDirectives, type Reference } from './references.ts'
import {
  CALL_MARK,
  EXPRESSION_MARK,
  LAYOUT_MARK,
  markTargets,
  TAG_MARK,
  withoutMarks,
  withSourceMap,
  type TemplateSourceMap,
} from './source-map.ts'
import { checkSyntax } from './syntax-check.ts'

/** How a template is placed among the others. All optional: without them the module stands alone. */
export interface CompileOptions {
  /**
   * The template's name (its path inside the templates folder, no extension),
   * against which `./relative` names resolve. @default `file` without `.eta`
   */
  name?: string
  /**
   * Import specifier of another template, by canonical name. When given, the
   * module imports every template it names, so the bundler's module graph
   * knows each dependency. @example (name) => `/templates/${name}.eta`
   */
  importPath?: (name: string) => string
  /** Whether a template of that canonical name exists; a named one that does not is a compile error. */
  exists?: (name: string) => boolean
  /** The directives known, from the vendor adapters. @default the built-in adapters' */
  vocabulary?: Vocabulary
}

export type { DirectiveInfo, TemplateSourceMap }

export interface CompileResult {
  /** The ES module source. */
  code: string
  /** Its source map back to the template (`sources: [file]`), so stack traces name the author's lines. */
  map: TemplateSourceMap
  directives: DirectiveInfo[]
  /** Whether the template uses `await` and so compiles to an async function. */
  async: boolean
}

// A directive's stand-in inside the text handed to Eta: NUL, index, filler,
// NUL — exactly as long as the directive, with its line breaks in place, so a
// line:column that Eta reports is one of the author's file. Templates
// containing NUL are refused by the parser.
// eslint-disable-next-line no-control-regex -- NUL is the mark's delimiter, by design
const MARK = /\u0000(\d+)(?:\u0001|\\n)*\u0000/g
// Eta copies each tag's code verbatim into its output: a mark before it tells
// the source map where that code starts (see source-map.ts).
const eta = new Eta({
  plugins: [
    {
      processAST: (ast) => ast.map((node) => (typeof node === 'string' ? node : { ...node, val: TAG_MARK + node.val })),
    },
  ],
})

/** Compiles one template. `file` is the path shown in errors (relative to the project root). */
export function compileTemplate(source: string, file: string, options: CompileOptions = {}): CompileResult {
  const vocabulary = options.vocabulary ?? BUILTIN_VOCABULARY
  const segments = parse(source, file, vocabulary)
  const directives = segments.filter((s): s is Directive => s.kind === 'directive')
  const map = new LineMap(source)
  checkOnePerPage(directives, vocabulary, map, file)
  const references = findReferences(segments, options.name ?? file.replace(/\.eta$/, ''))
  checkReferences(references, options, map, file)
  const isAsync = segments.some((s) => s.kind === 'eta' && /\bawait\b/.test(s.text))
  const etaSource = toEtaSource(source, segments)
  const body = withDirectiveCalls(etaBody(etaSource, isAsync, map, file), directives)
  checkSyntax(withoutMarks(body), { etaSource, segments, directives, isAsync }, map, file)
  const infos = directives.map((d) => directiveInfo(d, map, file, references))
  const always = unconditionalDirectives(segments)
  // Directives the runtime may start before the template reaches them: reached
  // on every render and with no {expression} that needs the template's data.
  const prefetch = directives.flatMap((d, i) =>
    always.has(d) && d.attributes.every((a) => a.value.kind === 'literal') ? [i] : [],
  )
  const marked = moduleCode({ file, body, infos, isAsync, references, prefetch, importPath: options.importPath })
  const { code, map: sourceMap } = withSourceMap(marked, markTargets(segments, directives), map, file)
  return { code, map: sourceMap, directives: infos, async: isAsync }
}

/** A directive allowed once per page (the chatbot) twice in the same file is certainly wrong. */
function checkOnePerPage(directives: Directive[], vocabulary: Vocabulary, map: LineMap, file: string): void {
  const seen = new Set<string>()
  for (const d of directives) {
    const once = vocabulary.get(d.name)?.onePerPage
    if (!once) continue
    if (seen.has(d.name)) {
      throw compileError('ERR_DIRECTIVE_DUPLICATE', `second <<${d.name}>> in one template`, map, file, d.start, once)
    }
    seen.add(d.name)
  }
}

function toEtaSource(source: string, segments: Segment[]): string {
  let index = 0
  return segments
    .map((s) => {
      if (s.kind !== 'directive') return s.text
      // A directive's first line holds at least `<<widget`: NUL and the index fit on it.
      const chars = source.slice(s.start, s.end).replace(/[^\n]/g, '\u0001').split('')
      const id = String(index++)
      chars.splice(0, id.length + 1, '\u0000', ...id)
      chars[chars.length - 1] = '\u0000'
      return chars.join('')
    })
    .join('')
}

function etaBody(source: string, isAsync: boolean, map: LineMap, file: string): string {
  try {
    return eta.compileToString(source, { async: isAsync })
  } catch (error) {
    if (!(error instanceof EtaParseError)) throw error
    const at = /at line (\d+) col (\d+)/.exec(error.message)
    const reason = error.message.split(' at line ')[0] ?? error.message
    const line = Number(at?.[1] ?? 1)
    const column = Number(at?.[2] ?? 1)
    throw compileError(
      'ERR_ETA_SYNTAX',
      `Eta syntax error: ${reason}`,
      map,
      file,
      offsetOf(map, line, column),
      undefined,
      error,
    )
  }
}

function offsetOf(map: LineMap, line: number, column: number): number {
  const lines = map.source.split('\n')
  let offset = 0
  for (let n = 1; n < line && n <= lines.length; n++) offset += (lines[n - 1]?.length ?? 0) + 1
  return offset + column - 1
}

function withDirectiveCalls(body: string, directives: Directive[]): string {
  return body.replace(MARK, (_match, index: string) => {
    const d = directives[Number(index)]
    if (!d) throw new Error(`internal: no directive #${index}`)
    return `'+${CALL_MARK}__host.embed(__directives[${index}], ${dynamicAttributes(d)}, it)+'`
  })
}

/** `{expression}` attributes become an object literal evaluated where the directive stands. */
function dynamicAttributes(d: Directive): string {
  const entries = d.attributes
    .filter((a) => a.value.kind === 'expression')
    .map((a) => `${JSON.stringify(a.name)}: (${EXPRESSION_MARK}${a.value.kind === 'expression' ? a.value.code : ''})`)
  return `{${entries.join(', ')}}`
}

function checkReferences(references: Reference[], options: CompileOptions, map: LineMap, file: string): void {
  for (const ref of references) {
    if (!ref.name) {
      throw compileError(
        'ERR_TEMPLATE_NOT_FOUND',
        `template name '${ref.written}' leaves the templates folder`,
        map,
        file,
        ref.offset,
      )
    }
    if (options.exists && !options.exists(ref.name)) {
      throw compileError(
        'ERR_TEMPLATE_NOT_FOUND',
        `no template '${ref.name}' for '${ref.written}'`,
        map,
        file,
        ref.offset,
        `expected a file ${ref.name}.eta in the templates folder`,
      )
    }
  }
}

function directiveInfo(d: Directive, map: LineMap, file: string, references: Reference[]): DirectiveInfo {
  const attributes: Record<string, string> = {}
  for (const a of d.attributes) if (a.value.kind === 'literal') attributes[a.name] = a.value.value
  // A literal fallback is stored by its canonical name, so `./x` works from any folder.
  const fallback = attributes['fallback']
  if (fallback) attributes['fallback'] = references.find((r) => r.written === fallback)?.name ?? fallback
  const { line, column } = map.position(d.start)
  return { name: d.name, attributes, loc: `${file}:${line}:${column}` }
}

interface ModuleParts {
  file: string
  body: string
  infos: DirectiveInfo[]
  isAsync: boolean
  references: Reference[]
  prefetch: number[]
  importPath: ((name: string) => string) | undefined
}

// Eta's compiled header renders includes and layouts by the name as written;
// these are the two places that name passes through.
const RENDER_CALLS = ['this.render(__eta_t,', 'this.renderAsync(__eta_t,']
const LAYOUT_RENDER = /(__eta\.res = )((?:await )?include(?:Async)? \(__eta\.layout,)/

function moduleCode(parts: ModuleParts): string {
  const { file, infos, isAsync, references, prefetch, importPath } = parts
  const includes = [...new Set(references.filter((r) => r.kind === 'include' && r.unconditional).map((r) => r.name))]
  const guard = infos.length
    ? `const __host = options && options[${JSON.stringify(HOST_OPTION)}];\n` +
      `if (!__host) throw new Error(${JSON.stringify(`${file} uses directives: render it through the vite-plugin-eta-embeds runtime`)});\n`
    : ''
  const meta: TemplateMeta = { file, async: isAsync, directives: infos.map((d) => d.name), prefetch, includes }
  const names = [...new Set(references.map((r) => r.name))]
  const imports = importPath ? names.map((n, i) => `import * as __t${i} from ${JSON.stringify(importPath(n))};`) : []
  const aliases = Object.fromEntries(references.map((r) => [r.written, r.name]))
  let body = parts.body
  for (const call of RENDER_CALLS) {
    if (!body.includes(call)) throw new Error(`internal: Eta's compiled output has no '${call}'`)
    body = body.replace(call, call.replace('__eta_t,', '__name(__eta_t),'))
  }
  // Eta renders the layout last: a stack through it is reported at the template's `layout(` call.
  body = body.replace(LAYOUT_RENDER, `$1${LAYOUT_MARK}$2`)
  return [
    `// Compiled from ${file} by vite-plugin-eta-embeds.`,
    ...imports,
    `const __directives = ${JSON.stringify(infos)};`,
    `const __names = ${JSON.stringify(aliases)};`,
    `const __name = (n) => (typeof n === 'string' && Object.hasOwn(__names, n) ? __names[n] : n);`,
    `export const directives = __directives;`,
    `export const meta = ${JSON.stringify(meta)};`,
    `export const dependencies = {${importPath ? names.map((n, i) => `${JSON.stringify(n)}: __t${i}`).join(', ') : ''}};`,
    `export default ${isAsync ? 'async ' : ''}function template(it, options) {`,
    guard + body,
    `}`,
    '',
  ].join('\n')
}
