import { MockAgent } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CompileError } from '../errors.ts'
import { renderPage, type TemplateMap } from '../runtime/render/render.ts'
import { compileTemplates, recordingLogger, TEST_NONCE, TEST_VENDORS, testRuntime } from '../runtime/test-helpers.ts'
import { caramelo } from '../vendors/caramelo/index.ts'
import { returningProxy } from '../vendors/returning/proxy.ts'
import { returningSdk } from '../vendors/returning/sdk.ts'
import type { Vocabulary } from '../vendors/vocabulary.ts'
import { compileTemplate } from './codegen.ts'
import { ACME_VOCABULARY, acmeBanner } from './test-helpers.ts'

const FILE = 'templates/home.eta'

function compileError(source: string, vocabulary?: Vocabulary): CompileError {
  let thrown: unknown
  try {
    compileTemplate(source, FILE, { vocabulary })
  } catch (error) {
    thrown = error
  }
  if (!(thrown instanceof CompileError)) throw new Error(`expected a CompileError, got ${String(thrown)}`)
  return thrown
}

function positionOf(source: string, needle: string): { line: number; column: number } {
  const offset = source.indexOf(needle)
  if (offset === -1) throw new Error(`'${needle}' is not in the source`)
  const before = source.slice(0, offset).split('\n')
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 }
}

describe('compileTemplate: errors', () => {
  it('refuses a second <<caramelo>> in one file, at the second one', () => {
    const source = '<<caramelo>>\n<p>\n  <<caramelo lang="en">>'
    const error = compileError(source)

    expect(error.code).toBe('ERR_DIRECTIVE_DUPLICATE')
    expect(error.loc).toEqual({ file: FILE, line: 3, column: 3 })
    expect(error.message).toBe(
      'second <<caramelo>> in one template at templates/home.eta:3:3 (a page can hold at most one chatbot)',
    )
    expect(error.message).toContain(`(${caramelo.definition.onePerPage})`)
  })

  it("takes the one-per-page rule and its reason from the adapter, an app's own included", () => {
    const error = compileError('<<banner>>\n<<widget>><<banner size="small">>', ACME_VOCABULARY)

    expect(error.code).toBe('ERR_DIRECTIVE_DUPLICATE')
    expect(error.loc).toEqual({ file: FILE, line: 2, column: 11 })
    expect(error.message).toBe(
      `second <<banner>> in one template at templates/home.eta:2:11 (${acmeBanner.definition.onePerPage})`,
    )
    // Directives without the rule may repeat.
    expect(compileTemplate('<<widget>><<widget flow="sdk">>', FILE).directives).toHaveLength(2)
  })

  it('refuses an attribute the literal flow does not take, at that attribute', () => {
    const source = '<section>\n  <<widget flow="sdk" loading="lazy">>\n</section>'
    const error = compileError(source)

    expect(error.code).toBe('ERR_ATTRIBUTE_UNKNOWN')
    expect(error.loc).toEqual({ file: FILE, ...positionOf(source, 'loading') })
    expect(error.message).toContain("(flow 'sdk' takes type, id, color, title, height, fallback)")
    expect(error.frame).toContain('> 2 |   <<widget flow="sdk" loading="lazy">>')
  })

  it('compiles a flow from an {expression}: its attributes are checked when it renders', () => {
    const { directives } = compileTemplate('<<widget flow={it.f} loading="lazy">>', FILE)

    expect(directives).toEqual([{ name: 'widget', attributes: { loading: 'lazy' }, loc: 'templates/home.eta:1:1' }])
  })

  it("reports Eta's own syntax errors on the author's line after a multi-line directive", () => {
    // Eta's string rule refuses `'\/'`, which the directive parser lets through to Eta.
    const source = '<<widget\n  id="w1"\n  color="dark">>\n<p><%= \'\\/\' %></p>'
    const error = compileError(source)

    expect(error.code).toBe('ERR_ETA_SYNTAX')
    expect(error.loc).toEqual({ file: FILE, ...positionOf(source, "'\\/'") })
    expect(error.loc.line).toBe(4)
    expect(error.message).toContain('Eta syntax error: unclosed string at templates/home.eta:4:8')
  })

  it("reports Eta's column right on the line where a multi-line directive ends", () => {
    const source = '<<widget\n  id="w1">> <%= \'\\/\' %>'
    const error = compileError(source)

    expect(error.code).toBe('ERR_ETA_SYNTAX')
    expect(error.loc).toEqual({ file: FILE, ...positionOf(source, "'\\/'") })
  })

  it('reports a JavaScript syntax error at the tag it is in, after a multi-line directive', () => {
    const source = '<<widget\n  id="w1">>\n<% const a = 1 %>\n<% if (it.x { %>\n  hi\n<% } %>'
    const error = compileError(source)

    expect(error.code).toBe('ERR_ETA_SYNTAX')
    expect(error.loc).toEqual({ file: FILE, line: 4, column: 1 })
    expect(error.message).toContain('JavaScript syntax error in a tag or {expression}')
    expect(error.frame).toContain('> 4 | <% if (it.x { %>')
  })

  it('reports a JavaScript syntax error in an {expression} at that expression', () => {
    const source = '<p>\n  <<widget title="t" id={it.a +}>>'
    const error = compileError(source)

    expect(error.code).toBe('ERR_ETA_SYNTAX')
    expect(error.loc).toEqual({ file: FILE, ...positionOf(source, '{it.a') })
    expect(error.message).toContain("check the {expression} of 'id'")
  })

  it('reports a block left open at the end of the file', () => {
    const source = '<% if (it.x) { %>\n  hi\n<% const y = 2 %>\nend'
    const error = compileError(source)

    expect(error.code).toBe('ERR_ETA_SYNTAX')
    expect(error.loc.line).toBe(4)
    expect(error.message).toContain('a block opened in <% %> is not closed')
  })

  it('wraps parse errors unchanged (same code and location)', () => {
    const error = compileError('\n\n  <<widget colour="x">>')

    expect(error.code).toBe('ERR_ATTRIBUTE_UNKNOWN')
    expect(error.loc).toEqual({ file: FILE, line: 3, column: 12 })
    expect(error.frame).toContain('^')
  })
})

describe('compileTemplate: the module', () => {
  it('exports meta and a template function, without new Function or eval', () => {
    const { code, directives, async } = compileTemplate(
      '<% for (const w of it.ids) { %>\n  <<widget id={w} color="dark">>\n<% } %>\n<<caramelo>>',
      FILE,
    )

    expect(async).toBe(false)
    expect(directives).toEqual([
      { name: 'widget', attributes: { color: 'dark' }, loc: 'templates/home.eta:2:3' },
      { name: 'caramelo', attributes: {}, loc: 'templates/home.eta:4:1' },
    ])
    expect(code).toContain(
      `export const meta = ${JSON.stringify({ file: FILE, async: false, directives: ['widget', 'caramelo'], prefetch: [1], includes: [] })};`,
    )
    expect(code).toContain('export default function template(it, options) {')
    expect(code).not.toMatch(/new Function|\bFunction\(|\beval\b/)
    expect(code).not.toContain('\u0000')
  })

  it('compiles a template that awaits into an async function', () => {
    const { code, async } = compileTemplate('<% const x = await it.load() %><%= x %>', FILE)

    expect(async).toBe(true)
    expect(code).toContain('export default async function template(it, options) {')
  })

  it('adds no runtime guard to a template without directives', () => {
    const { code } = compileTemplate('<p><%= it.a %></p>', FILE)

    expect(code).not.toContain('__embeds')
  })
})

describe('compiled templates, rendered (anonymous: no vendor is called)', () => {
  let agent: MockAgent

  beforeEach(() => {
    agent = new MockAgent()
    agent.disableNetConnect()
  })

  afterEach(async () => {
    try {
      agent.assertNoPendingInterceptors()
    } finally {
      await agent.close()
    }
  })

  function render(templates: TemplateMap, data: object = {}): Promise<string> {
    const runtime = testRuntime({
      vendors: [
        returningProxy(TEST_VENDORS.returning),
        returningSdk(TEST_VENDORS.returningSdk),
        caramelo(TEST_VENDORS.caramelo),
      ],
      dispatcher: agent,
      logger: recordingLogger(),
    })
    return renderPage(runtime, templates, 'home', data, {
      user: undefined,
      nonce: TEST_NONCE,
      acceptLanguage: undefined,
    })
  }

  it("writes '\\<<' out as a literal '<<'", async () => {
    const templates = await compileTemplates({ home: 'a \\<<widget>> b' })

    await expect(render(templates)).resolves.toBe('a <<widget>> b')
  })

  it("leaves '<<' inside Eta tags and inline scripts to JavaScript", async () => {
    const templates = await compileTemplates({
      home: '<% const n = 1 << 3 %><%= n %>|<script nonce="x">var a = 1 <<b</script>',
    })

    await expect(render(templates)).resolves.toBe('8|<script nonce="x">var a = 1 <<b</script>')
  })

  it('evaluates {expression} attributes in the template scope, loop variables included', async () => {
    const templates = await compileTemplates({
      home: '<% for (const p of it.partials) { %>[<<widget fallback={p}>>]<% } %>',
      'partials/a': 'A=<%= it.who %>',
      'partials/b': 'B',
    })

    await expect(render(templates, { partials: ['partials/a', 'partials/b'], who: 'x' })).resolves.toBe('[A=x][B]')
  })

  it.each([
    ['text on both sides', 'a\n  <<widget>>\nb'],
    ['inside a loop', '<ul>\n<% for (const i of [1, 2]) { %>\n  <li><<widget>></li>\n<% } %>\n</ul>\n'],
    ['between trimming tags', '<%- if (true) { -%>\n  <<widget>>  \n<%_ } _%>\nend'],
    ['spread over lines', 'x\n<<widget\n  id="w1"\n  color="dark">>\n  tail\n'],
    ['at the very start and end', '<<widget>>\n<p>\n</p>\n<<caramelo>>'],
  ])('keeps the white space around a directive as plain text would (%s)', async (_name, source) => {
    const plain = source.replace(/<<(?:widget|caramelo)[\s\S]*?>>/g, '@@')
    const templates = await compileTemplates({ home: source })
    const plainTemplates = await compileTemplates({ home: plain })

    const expected = (await render(plainTemplates)).replaceAll('@@', '')
    await expect(render(templates)).resolves.toBe(expected)
  })

  it('renders the simplest case exactly', async () => {
    const templates = await compileTemplates({ home: 'a\n  <<widget>>\nb' })

    await expect(render(templates)).resolves.toBe('a\n  \nb')
  })

  it('checks a flow from an {expression} when it renders, with the rules of the flow it names', async () => {
    const templates = await compileTemplates({
      home: '[<<widget flow={it.f} loading="lazy" fallback="fb">>]',
      fb: 'FB',
    })

    await expect(render(templates, { f: 'proxy' })).resolves.toBe('[FB]')
    await expect(render(templates, { f: 'sdk' })).rejects.toThrow(
      expect.objectContaining({
        name: 'RenderError',
        code: 'ERR_ATTRIBUTE_VALUE',
        message: expect.stringContaining("for 'loading' on <<widget>> at templates/home.eta:1:2 (flow 'sdk' takes"),
      }),
    )
  })

  it('refuses to run outside the runtime instead of rendering a raw placeholder', async () => {
    const templates = await compileTemplates({ home: '<<widget>>' })

    expect(() => templates['home']?.default.call({}, {}, {})).toThrow(
      'templates/home.eta uses directives: render it through the vite-plugin-eta-embeds runtime',
    )
  })
})

describe('compileTemplate: strict mode', () => {
  it.each(['<%= 010 %>', '<% with (it) { %>x<% } %>', '<% var let = 1 %>', '<% delete x %>'])(
    'refuses %s, which an ES module (always strict) could not load',
    (source) => {
      expect(() => compileTemplate(source, 'templates/strict.eta')).toThrow(
        expect.objectContaining({ code: 'ERR_ETA_SYNTAX', loc: expect.objectContaining({ line: 1 }) }),
      )
    },
  )
})
