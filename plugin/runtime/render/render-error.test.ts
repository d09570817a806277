/**
 * Render errors located in the author's templates (issue 13): the template's
 * own code failing, in the page, a partial or the layout, is reported at the
 * line and column the author wrote, with a code frame and the templates that
 * led there; the production log line says what and where, never the message.
 * The templates are real modules with their source maps beside them, as a
 * build writes them (see `compileTemplates`).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { compileTemplate } from '../../compiler/codegen.ts'
import { RenderError } from '../../errors.ts'
import type { TemplateModule } from '../../template-module.ts'
import { compileTemplates, TEST_NONCE, testRuntime } from '../test-helpers.ts'
import { templateSites } from './locate.ts'
import { renderErrorLogLine } from './render-error.ts'
import { renderPage, type TemplateMap } from './render.ts'

/** The error `home` fails with, rendered anonymously with `data`. */
async function failure(templates: TemplateMap, data: object = {}): Promise<RenderError> {
  const runtime = testRuntime({ logger: { warn: () => {}, info: () => {} } })
  try {
    await renderPage(runtime, templates, 'home', data, {
      user: undefined,
      nonce: TEST_NONCE,
      acceptLanguage: undefined,
    })
  } catch (error) {
    if (error instanceof RenderError) return error
    throw new Error(`expected a RenderError, got ${String(error)}`, { cause: error })
  } finally {
    await runtime.close()
  }
  throw new Error('expected the render to fail')
}

/** 1-based line and column of `needle` in `text`. */
function at(text: string, needle: string): { line: number; column: number } {
  const offset = text.indexOf(needle)
  if (offset === -1) throw new Error(`'${needle}' is not in the text`)
  const before = text.slice(0, offset).split('\n')
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 }
}

const PAGE = "<% layout('layout') %>\n<h1>Hi</h1>\n<main>\n  <%~ include('partials/card') %>\n</main>\n"
const LAYOUT = '<html>\n<body>\n<%~ it.body %>\n</body>\n</html>\n'
const CARD = '<section>\n  <p><%= it.user.name %></p>\n</section>\n'

describe('a render error in the template code', () => {
  it('names the page line and column, with a frame, and keeps what was thrown', async () => {
    const home = '<main>\n  <p>Hi <%= it.user.profile.city %></p>\n</main>\n'
    const error = await failure(await compileTemplates({ home }), { user: {} })

    const city = at(home, 'city')
    expect(error.code).toBe('ERR_TEMPLATE_RUNTIME')
    expect(error.loc).toEqual({ file: 'templates/home.eta', ...city })
    expect(error.message).toBe(
      `TypeError: Cannot read properties of undefined (reading 'city') at templates/home.eta:${city.line}:${city.column}`,
    )
    expect(error.frame).toContain('> 2 |   <p>Hi <%= it.user.profile.city %></p>')
    expect(error.frame).toContain(`|${' '.repeat(city.column)}^`)
    expect(error.via).toEqual([])
    expect(error.cause).toBeInstanceOf(TypeError)
    expect(error.stack).toMatch(/^RenderError: TypeError: Cannot read properties/)
  })

  it('names the partial it is in, and the include that led there', async () => {
    const card = CARD.replace('it.user.name', 'it.user.profile.city')
    const error = await failure(await compileTemplates({ home: PAGE, layout: LAYOUT, 'partials/card': card }), {
      user: {},
    })

    const city = at(card, 'city')
    const include = at(PAGE, 'include(')
    expect(error.loc).toEqual({ file: 'templates/partials/card.eta', ...city })
    expect(error.via).toEqual([`templates/home.eta:${include.line}:${include.column}`])
    expect(error.message).toContain(
      `at templates/partials/card.eta:${city.line}:${city.column} (via templates/home.eta:${include.line}:${include.column})`,
    )
    expect(error.frame).toContain('> 2 |   <p><%= it.user.profile.city %></p>')
  })

  it("names the layout it is in, and the page's layout() call", async () => {
    const layout = LAYOUT.replace('<body>', '<body class="<%= it.theme.name %>">')
    const error = await failure(await compileTemplates({ home: PAGE, layout, 'partials/card': CARD }), {
      user: { name: 'A' },
    })

    const name = at(layout, 'name %>')
    expect(error.loc).toEqual({ file: 'templates/layout.eta', ...name })
    expect(error.via).toEqual(['templates/home.eta:1:4'])
  })

  it("locates an {expression}'s own error and the runtime's errors about a directive", async () => {
    const home = '<div>\n  <<widget id={it.ids.first}>>\n</div>\n'
    const thrown = await failure(await compileTemplates({ home }))
    expect(thrown.loc).toEqual({ file: 'templates/home.eta', ...at(home, 'first') })

    const refused = await failure(await compileTemplates({ home }), { ids: { first: '../x' } })
    expect(refused.code).toBe('ERR_ATTRIBUTE_VALUE')
    // The runtime's message names the directive already; the stack adds the frame.
    expect(refused.message).toBe(
      `bad value "../x" for 'id' on <<widget>> at templates/home.eta:2:3 (expected letters, digits, _ or - (at most 64))`,
    )
    expect(refused.loc).toEqual({ file: 'templates/home.eta', line: 2, column: 3 })
    expect(refused.frame).toContain('> 2 |   <<widget id={it.ids.first}>>')
  })

  it('locates an error in an async template through includeAsync', async () => {
    const home = "<main>\n<%~ await includeAsync('slow') %>\n</main>"
    const slow = '<%= await Promise.resolve(1) %>\n<%= it.missing.value %>'
    const error = await failure(await compileTemplates({ home, slow }))
    expect(error.loc).toEqual({ file: 'templates/slow.eta', ...at(slow, 'value') })
    expect(error.via).toEqual([`templates/home.eta:${at(home, 'await').line}:${at(home, 'await').column}`])
  })

  it('is reported without a place when no source map is found, naming the page', async () => {
    // A module written without its map, as a server build with `build.sourcemap: false` is.
    const dir = await mkdtemp(path.join(tmpdir(), 'eta-embeds-no-map-'))
    try {
      const file = path.join(dir, 'home.mjs')
      await writeFile(file, compileTemplate('<%= it.user.profile.city %>', 'templates/home.eta').code)
      const home = (await import(pathToFileURL(file).href)) as TemplateModule
      const error = await failure({ home }, { user: {} })

      expect(error.code).toBe('ERR_TEMPLATE_RUNTIME')
      expect(error.loc).toBeUndefined()
      expect(error.message).toBe(
        "TypeError: Cannot read properties of undefined (reading 'city') in template 'home' (no source map locates it)",
      )
      expect(renderErrorLogLine(error)).toBe('render failed: TypeError at an unknown template line')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('the production log line', () => {
  it('says what and where, never the message that can quote the page data', async () => {
    const card = CARD.replace('it.user.name', 'JSON.parse(it.user.email)')
    const templates = await compileTemplates({ home: PAGE, layout: LAYOUT, 'partials/card': card })
    const error = await failure(templates, { user: { email: 'alice@example.com' } })

    expect(error.message).toContain('"alice@example.com" is not valid JSON')
    const parse = at(card, 'parse')
    const include = at(PAGE, 'include(')
    expect(renderErrorLogLine(error)).toBe(
      `render failed: SyntaxError at templates/partials/card.eta:${parse.line}:${parse.column} (via templates/home.eta:${include.line}:${include.column})`,
    )
  })

  it('reports a thrown value that is not an Error, even one that cannot print itself', async () => {
    const error = await failure(await compileTemplates({ home: '<% throw it.thrown %>' }), {
      thrown: Object.create(null) as object,
    })
    // Only an Error records where it was thrown.
    expect(error.message).toBe(
      "object thrown: [object Object] in template 'home' (what it threw has no stack: throw an Error to get its line)",
    )
    expect(renderErrorLogLine(error)).toBe('render failed: a thrown object at an unknown template line')
  })

  it("gives the runtime's own code, and the kind of anything else", () => {
    expect(renderErrorLogLine(new RenderError('ERR_TEMPLATE_NOT_FOUND', "no template 'x' (known: home)"))).toBe(
      'render failed: ERR_TEMPLATE_NOT_FOUND',
    )
    expect(renderErrorLogLine(new TypeError('secret-looking message'))).toBe('render failed: TypeError')
    expect(renderErrorLogLine('a string')).toBe('render failed: a thrown string')
  })
})

describe('templateSites: reading a stack', () => {
  const files = ['templates/home.eta', 'templates/partials/card.eta']

  function stackError(...frames: string[]): Error {
    const error = new Error('x')
    error.stack = ['Error: x', ...frames].join('\n')
    return error
  }

  it('takes frames already mapped to .eta files (the dev server) and skips Eta helpers', () => {
    const error = stackError(
      '    at Object.template (/app (copy)/templates/partials/card.eta:2:12)',
      '    at k.w (/app (copy)/node_modules/eta/dist/core.js:1:2)',
      '    at include (/app (copy)/templates/home.eta:2:61)',
      '    at async Object.template (file:///app%20(copy)/templates/home.eta:4:7)',
      '    at async Promise.all (index 0)',
    )
    expect(templateSites(error, files).map((s) => `${s.file}:${s.line}:${s.column}`)).toEqual([
      'templates/partials/card.eta:2:12',
      'templates/home.eta:4:7',
    ])
  })

  it('ignores files that are not templates, and stacks it cannot read', () => {
    expect(templateSites(stackError('    at x (/app/templates/other.eta:1:1)'), files)).toEqual([])
    expect(templateSites('not an error', files)).toEqual([])
    expect(templateSites(stackError('    at eval (eval at f (file:///a.js:1:1), <anonymous>:1:1)'), files)).toEqual([])
  })
})
