/**
 * Property-based tests of the compiler: whatever text an author saves,
 * `compileTemplate` returns a module or throws a `CompileError` that points
 * into that text — nothing else. Directive-free templates are checked against
 * Eta itself (differential test): the plugin must not change Eta's output.
 */
import vm from 'node:vm'
import { Eta } from 'eta'
import fc from 'fast-check'
import { MockAgent } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CompileError } from '../errors.ts'
import { renderPage } from '../runtime/render/render.ts'
import type { Runtime } from '../runtime/runtime.ts'
import { compileTemplates, recordingLogger, TEST_NONCE, TEST_VENDORS, testRuntime } from '../runtime/test-helpers.ts'
import { HOST_OPTION } from '../template-module.ts'
import { caramelo as carameloAdapter } from '../vendors/caramelo/index.ts'
import { returningProxy } from '../vendors/returning/proxy.ts'
import { returningSdk } from '../vendors/returning/sdk.ts'
import { compileTemplate, type CompileResult } from './codegen.ts'

const FILE = 'fuzz.eta'

// --- Generators --------------------------------------------------------------

const join = (parts: string[]) => parts.join('')

/** Pieces of the directive and Eta grammars, glued in any order: most mixtures are near misses. */
// prettier-ignore
const FRAGMENTS = [
  '<<', '>>', '\\<<', '<<widget', '<<caramelo', '<<wdget', ' type="store"', ' id={it.x}', " color='dark'",
  ' title="Rewards"', ' height="260"', ' loading="lazy"', ' fallback="partials/w"', ' lang="pt-BR"', ' colour="x"',
  ' flow="sdk"', ' flow="proxy"', ' flow={it.f}', ' type="minigames"',
  '{', '}', '${', '"', "'", '`', '\\', '=', '/*', '*/', '<%', '%>', '<%=', '<%~', '<%_', '-%>', '_%>',
  '<script>', '</script>', '\n', '\r\n', '\r', ' ', '\t', 'hello', 'it.x', '<p>', 'a << b',
]

const fragmentSoup = fc
  .array(
    fc.oneof(
      { arbitrary: fc.constantFrom(...FRAGMENTS), weight: 8 },
      { arbitrary: fc.string({ maxLength: 6 }), weight: 1 },
      { arbitrary: fc.string({ unit: 'binary', maxLength: 4 }), weight: 1 },
    ),
    { maxLength: 40 },
  )
  .map(join)

const space = fc.constantFrom(' ', '  ', '\n', '\r\n', '\t', '\n  ')
const attributeValue = fc.oneof(
  fc.constantFrom('store', 'dark', 'w1', 'partials/w', 'pt-BR', '260', 'lazy', '', '../x', 'x y', '%>', '>>', '\n'),
  fc.constantFrom('sdk', 'proxy', 'minigames'),
  fc.string({ maxLength: 4 }),
)
const expression = fc.oneof(
  fc.constantFrom('it.x', "'a'", '`c${it.y}`', '"}"', "'{'", '{a: 1}.a', '(1', '1)', ' ', 'it.\nx', "'%>'", 'await 1'),
  fc.string({ maxLength: 5 }),
)
const attribute = fc
  .tuple(
    space,
    fc.constantFrom(
      'type',
      'id',
      'color',
      'title',
      'height',
      'loading',
      'fallback',
      'project',
      'lang',
      'colour',
      'flow',
    ),
    fc.constantFrom('=', '=', '', ' = '),
    fc.oneof(
      attributeValue.map((v) => `"${v}"`),
      attributeValue.map((v) => `'${v}'`),
      expression.map((e) => `{${e}}`),
      attributeValue,
    ),
  )
  .map(join)
const directive = fc
  .tuple(
    fc.constantFrom('<<widget', '<<caramelo', '<<wdget', '\\<<widget'),
    fc.array(attribute, { maxLength: 3 }).map(join),
    fc.constantFrom('', ' ', '\n'),
    fc.constantFrom('>>', '>>', '>', '', '>>>'),
  )
  .map(join)
const tagCode = fc.oneof(
  fc.constantFrom('it.x', 'if (it.flag) {', '}', "'%>'", '`a${1}b`', '/* %> */', 'a << b', "'<<widget>>'", '"\\/"'),
  fc.constantFrom('await it.x', "include('p')", '"\n"', 'x = `\n`', '} else {', ''),
  fc.string({ maxLength: 6 }),
)
const tag = fc
  .tuple(
    fc.constantFrom('<%', '<%=', '<%~', '<%-', '<%_'),
    space,
    tagCode,
    space,
    fc.constantFrom('%>', '%>', '-%>', '_%>', ''),
  )
  .map(join)
const text = fc.oneof(
  fc.constantFrom('<p>', 'hello', '\n', '<<', '>>', '\\<<', '<script>', '</script>', '<SCRIPT >', 'a << b', '{', "'"),
  fc.string({ unit: 'binary', maxLength: 4 }),
)

/** Templates shaped like real ones: directives, tags and text, each well-formed or slightly off. */
const structured = fc.array(fc.oneof(directive, tag, text), { maxLength: 14 }).map(join)

const goodExpression = fc.constantFrom('it.x', "'%>'", '"}"', '`w${it.n}`', 'it.\n  id', "{ a: 'w1' }.a")

/** A directive that compiles: known attributes, each once, with valid literals or expressions. */
function wellFormed(name: string, values: Record<string, string[]>): fc.Arbitrary<string> {
  const attr = fc.constantFrom(...Object.entries(values)).chain(([key, literals]) =>
    fc.oneof(
      fc.constantFrom(...literals).map((v) => `${key}="${v}"`),
      goodExpression.map((e) => `${key}={${e}}`),
    ),
  )
  return fc
    .tuple(fc.uniqueArray(attr, { selector: (a) => a.split('=')[0], maxLength: 3 }), space, fc.constantFrom('', '\n'))
    .map(([attrs, gap, end]) => `<<${name}${attrs.map((a) => gap + a).join('')}${end}>>`)
}
const widget = wellFormed('widget', {
  type: ['store', 'channel'],
  id: ['w1', 'a_b-2'],
  color: ['light', 'dark'],
  title: ["Tom's <b>rewards</b>", '%>'],
  height: ['260'],
  loading: ['eager', 'lazy'],
  fallback: ['partials/w'],
  flow: ['proxy'],
})
const sdkWidget = wellFormed('widget', {
  flow: ['sdk'],
  type: ['store', 'currency'],
  id: ['c-1'],
  color: ['light', 'dark'],
  height: ['200'],
  fallback: ['partials/w'],
})
const caramelo = wellFormed('caramelo', { project: ['p1'], lang: ['en', 'pt-BR'], fallback: ['partials/c'] })
const goodTag = fc.constantFrom(
  '<%= it.x %>',
  "<%~ '<<widget>>' %>",
  '<% if (it.flag) { -%>\n<% } %>',
  '<%= await it.p %>',
)

/** Templates that mostly compile, with directives among tags and text. */
const compiling = fc.array(fc.oneof(widget, sdkWidget, caramelo, goodTag, text), { maxLength: 10 }).map(join)

const anyTemplate = fc.oneof(fragmentSoup, structured, compiling, fc.string(), fc.string({ unit: 'binary' }))

// --- Properties of compileTemplate ---------------------------------------------

/** The compiled module, or the `CompileError`; any other exception escapes and fails the property. */
function outcome(source: string): CompileResult | CompileError {
  try {
    return compileTemplate(source, FILE)
  } catch (error) {
    if (error instanceof CompileError) return error
    throw error
  }
}

function expectLocated(error: CompileError, source: string): void {
  const lines = source.split('\n')
  const { file, line, column } = error.loc
  expect(file).toBe(FILE)
  expect(line).toBeGreaterThanOrEqual(1)
  expect(line).toBeLessThanOrEqual(lines.length)
  expect(column).toBeGreaterThanOrEqual(1)
  // One past the end of the line is where "unclosed …" errors at the end of the file point.
  expect(column).toBeLessThanOrEqual((lines[line - 1] ?? '').length + 1)
  expect(error.message).toContain(`${FILE}:${line}:${column}`)
  expect(error.frame).toMatch(new RegExp(`^> +${line} \\| `, 'm'))
  expect(error.frame).toContain(`| ${' '.repeat(column - 1)}^`)
}

/** The offset of 1-based `line:column` in `source`. */
function offsetAt(source: string, line: number, column: number): number {
  const before = source.split('\n').slice(0, line - 1)
  return before.reduce((n, l) => n + l.length + 1, 0) + column - 1
}

describe('compileTemplate on arbitrary text', () => {
  it('returns a module or throws a CompileError located inside the source', () => {
    fc.assert(
      fc.property(anyTemplate, (source) => {
        const result = outcome(source)
        if (result instanceof CompileError) expectLocated(result, source)
        else expect(typeof result.code).toBe('string')
      }),
      { numRuns: 1000 },
    )
  })

  it('emits JavaScript that parses, with every directive called once and located at its <<', () => {
    fc.assert(
      fc.property(fc.oneof(compiling, structured, fragmentSoup), (source) => {
        const result = outcome(source)
        if (result instanceof CompileError) return
        // Strict rules, as the emitted ES module has (vm.Script cannot parse `export`, hence the strip).
        expect(() => new vm.Script(`'use strict';${result.code.replace(/^export (default )?/gm, '')}`)).not.toThrow()
        expect(result.code).not.toContain('\u0000')
        expect(result.code.split('__host.embed(__directives[').length - 1).toBe(result.directives.length)
        // The host is reached through the contract's option name (template-module.ts), never a spelling of its own.
        if (result.directives.length) expect(result.code).toContain(`options[${JSON.stringify(HOST_OPTION)}]`)
        for (const d of result.directives) {
          const [line, column] = d.loc
            .slice(FILE.length + 1)
            .split(':')
            .map(Number)
          expect(source.startsWith(`<<${d.name}`, offsetAt(source, line ?? 0, column ?? 0))).toBe(true)
        }
      }),
      { numRuns: 1000 },
    )
  })
})

// --- Differential test against Eta ---------------------------------------------

const DATA = { x: `<b>"Tom" & 'Jerry'</b>`, html: '<i>raw</i>', n: 3, flag: false, list: ['a', '<b>'] }

const open = fc.constantFrom('<%', '<%-', '<%_')
const close = fc.constantFrom('%>', '-%>', '_%>')
const plain = fc.oneof(
  fc.constantFrom('<p>', 'hello', '\n', '\r\n', '  ', '"', "'", '`', '{', '}', '>>', '<< 1', '<<>>', '\\<<', '%>'),
  fc.constantFrom('<script>if (a << b) {}</script>', '<SCRIPT>x<<widget</SCRIPT>', '\\<<widget>>'),
  // No '<' or '\\' (they could start a tag, a directive or an escape) and no NUL, which the parser refuses by design.
  fc.string({ unit: 'binary', maxLength: 6 }).filter((s) => !['<', '\\', '\u0000'].some((c) => s.includes(c))),
)
const output = fc
  .tuple(
    open,
    fc.constantFrom('=', '~'),
    fc.constantFrom(
      'it.x',
      'it.html',
      'it.n * 2',
      "'%>'",
      '"<<widget>>"',
      '`a${it.n}`',
      "typeof v === 'undefined' ? '' : v",
    ),
    close,
  )
  .map(([o, kind, code, c]) => `${o}${kind} ${code} ${c}`)
const asyncOutput = fc.constant('<%= await Promise.resolve(it.n) %>')
const stray = fc.constantFrom('<% } %>', '<% if (it.flag) { %>', '<% /* %> */ %>', '<%= it.x /* }} */ %>')

const { body: etaTemplate } = fc.letrec<{ body: string; node: string }>((tie) => ({
  body: fc.array(tie('node'), { maxLength: 6 }).map(join),
  node: fc.oneof(
    { depthSize: 'small' },
    { arbitrary: plain, weight: 4 },
    { arbitrary: output, weight: 3 },
    { arbitrary: asyncOutput, weight: 1 },
    { arbitrary: stray, weight: 1 },
    {
      arbitrary: fc
        .tuple(open, fc.constantFrom('if (it.flag) {', 'if (!it.flag) {', 'for (const v of it.list) {'), close)
        .chain(([o, head, c]) => tie('body').map((inner) => `${o} ${head} ${c}${inner}<% } %>`)),
      weight: 2,
    },
  ),
}))

const eta = new Eta()

/** Eta's own output for the template; `\<<` is the plugin's escape, so Eta is given the `<<` it stands for. */
async function etaOutput(source: string): Promise<{ html: string } | { rejected: unknown }> {
  const text = source.replaceAll('\\<<', '<<')
  try {
    return { html: text.includes('await') ? await eta.renderStringAsync(text, DATA) : eta.renderString(text, DATA) }
  } catch (error) {
    return { rejected: error }
  }
}

describe('compileTemplate + renderPage against Eta, templates without directives', () => {
  let agent: MockAgent
  let runtime: Runtime

  beforeEach(() => {
    agent = new MockAgent()
    agent.disableNetConnect()
    runtime = testRuntime({
      vendors: [
        returningProxy(TEST_VENDORS.returning),
        returningSdk(TEST_VENDORS.returningSdk),
        carameloAdapter(TEST_VENDORS.caramelo),
      ],
      dispatcher: agent,
      logger: recordingLogger(),
    })
  })

  afterEach(async () => {
    try {
      agent.assertNoPendingInterceptors()
    } finally {
      await agent.close()
    }
  })

  it('renders what Eta renders, and refuses what Eta refuses', async () => {
    await fc.assert(
      fc.asyncProperty(etaTemplate, async (source) => {
        const expected = await etaOutput(source)
        if ('rejected' in expected) {
          expect(() => compileTemplate(source, FILE)).toThrow(CompileError)
          return
        }
        const templates = await compileTemplates({ home: source })
        const page = { user: undefined, nonce: TEST_NONCE, acceptLanguage: undefined }
        await expect(renderPage(runtime, templates, 'home', DATA, page)).resolves.toBe(expected.html)
      }),
      { numRuns: 300 },
    )
  })
})
