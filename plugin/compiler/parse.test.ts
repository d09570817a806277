import { describe, expect, it } from 'vitest'
import { CompileError, type CompileErrorCode } from '../errors.ts'
import { BUILTIN_VOCABULARY } from '../vendors/registry.ts'
import type { Vocabulary } from '../vendors/vocabulary.ts'
import { parse, type Directive, type Segment } from './parse.ts'
import { ACME_VOCABULARY } from './test-helpers.ts'

const FILE = 'templates/home.eta'

/** The error `parse` throws; fails the test when it throws nothing or something else. */
function parseError(source: string, vocabulary: Vocabulary = BUILTIN_VOCABULARY): CompileError {
  let thrown: unknown
  try {
    parse(source, FILE, vocabulary)
  } catch (error) {
    thrown = error
  }
  if (!(thrown instanceof CompileError)) throw new Error(`expected a CompileError, got ${String(thrown)}`)
  return thrown
}

/** 1-based line and column of the first `needle` in `source` (plus `shift` characters). */
function positionOf(source: string, needle: string, shift = 0): { line: number; column: number } {
  const offset = source.indexOf(needle)
  if (offset === -1) throw new Error(`'${needle}' is not in the source`)
  const before = source.slice(0, offset + shift).split('\n')
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 }
}

function directives(segments: Segment[]): Directive[] {
  return segments.filter((s): s is Directive => s.kind === 'directive')
}

describe('parse: what is a directive', () => {
  it('splits text, Eta tags and directives with literal and {expression} attributes', () => {
    const source = 'Hi <%= it.name %>\n<<widget id="w1" color={it.color}>> bye'

    expect(parse(source, FILE)).toEqual([
      { kind: 'text', text: 'Hi ' },
      { kind: 'eta', text: '<%= it.name %>', start: 3 },
      { kind: 'text', text: '\n' },
      {
        kind: 'directive',
        name: 'widget',
        attributes: [
          { name: 'id', value: { kind: 'literal', value: 'w1' }, offset: source.indexOf('id=') },
          { name: 'color', value: { kind: 'expression', code: 'it.color' }, offset: source.indexOf('color=') },
        ],
        start: source.indexOf('<<'),
        end: source.indexOf('>>') + 2,
      },
      { kind: 'text', text: ' bye' },
    ])
  })

  it('reads an {expression} with nested braces and braces inside strings', () => {
    const [widget] = directives(parse("<<widget id={({ a: '}', b: `${'{'}` }).a} title='x'>>", FILE))

    expect(widget?.attributes.map((a) => a.value)).toEqual([
      { kind: 'expression', code: "({ a: '}', b: `${'{'}` }).a" },
      { kind: 'literal', value: 'x' },
    ])
  })

  it('accepts attributes spread over several lines', () => {
    const [widget] = directives(parse('<<widget\n  id="w1"\n  color="dark"\n>>', FILE))

    expect(widget?.attributes.map((a) => [a.name, a.value])).toEqual([
      ['id', { kind: 'literal', value: 'w1' }],
      ['color', { kind: 'literal', value: 'dark' }],
    ])
  })

  it("writes '\\<<' as a literal '<<' and never as a directive", () => {
    expect(parse('a \\<<widget>> b \\<<nope', FILE)).toEqual([{ kind: 'text', text: 'a <<widget>> b <<nope' }])
  })

  it("leaves '<<' that is not followed by a letter as text", () => {
    expect(parse('1 << 2, a <<2', FILE)).toEqual([{ kind: 'text', text: '1 << 2, a <<2' }])
  })

  it("never treats '<<' inside an Eta tag as a directive, strings and comments included", () => {
    const source = "<% const n = 1 <<widget; const s = '<<caramelo>> %>' /* <<widget>> %> */ %>"

    expect(parse(source, FILE)).toEqual([{ kind: 'eta', text: source, start: 0 }])
  })

  it("never treats '<<' inside an inline <script> as a directive, and does again after it", () => {
    const script = '<SCRIPT type="module">const x = y <<shift; if (a<<b) {}</SCRIPT>'
    const segments = parse(`${script}\n<<widget>><script>z <<q</script>`, FILE)

    expect(segments.map((s) => s.kind)).toEqual(['text', 'directive', 'text'])
    expect(segments[0]).toEqual({ kind: 'text', text: `${script}\n` })
    expect(segments[2]).toEqual({ kind: 'text', text: '<script>z <<q</script>' })
  })

  it('recognises both directives, and each one once per occurrence', () => {
    const found = directives(parse('<<widget type="channel" id="c-1">>\n<<caramelo project="p1" lang="pt-BR">>', FILE))

    expect(found.map((d) => d.name)).toEqual(['widget', 'caramelo'])
  })
})

interface ErrorCase {
  name: string
  source: string
  code: CompileErrorCode
  /** Where the error points: the first `needle`, moved `shift` characters on. */
  at: [needle: string, shift?: number]
  says: string
}

/** `source` fails with `code`, located at `at`, and its message says `says`. */
function expectCompileError({ source, code, at, says }: ErrorCase, vocabulary?: Vocabulary): void {
  const error = parseError(source, vocabulary)
  const { line, column } = positionOf(source, at[0], at[1])

  expect(error.code).toBe(code)
  expect(error.loc).toEqual({ file: FILE, line, column })
  expect(error.message).toContain(`at ${FILE}:${line}:${column}`)
  expect(error.message).toContain(says)
}

describe('parse: compile errors point at the source', () => {
  const cases: ErrorCase[] = [
    {
      name: 'unknown directive',
      source: '<p>\n  <<widgit id="x">>',
      code: 'ERR_DIRECTIVE_UNKNOWN',
      at: ['widgit'],
      says: "unknown directive '<<widgit>>' at templates/home.eta:2:5 (known: widget, caramelo; write '\\<<' for a literal '<<')",
    },
    {
      name: 'unknown attribute, with the known list',
      source: '<main>\n<<widget colour="dark">>',
      code: 'ERR_ATTRIBUTE_UNKNOWN',
      at: ['colour'],
      says: "unknown attribute 'colour' on <<widget>> at templates/home.eta:2:10 (known: flow, type, id, color, title, height, fallback, loading)",
    },
    {
      name: 'unknown attribute on caramelo',
      source: '<<caramelo language="en">>',
      code: 'ERR_ATTRIBUTE_UNKNOWN',
      at: ['language'],
      says: '(known: project, lang, fallback)',
    },
    {
      name: 'bad literal value',
      source: '<<widget color="blue">>',
      code: 'ERR_ATTRIBUTE_VALUE',
      at: ['blue'],
      says: `bad value "blue" for 'color' on <<widget>> at templates/home.eta:1:17 (expected one of light, dark)`,
    },
    {
      name: 'widget type outside the allowlist',
      source: '<<widget type="../admin">>',
      code: 'ERR_ATTRIBUTE_VALUE',
      at: ['../admin'],
      says: 'expected one of store, channel, milestone, social, currency, minigames',
    },
    { name: 'id with a path', source: '<<widget id="../x">>', code: 'ERR_ATTRIBUTE_VALUE', at: ['../x'], says: "'id'" },
    { name: 'zero height', source: '<<widget height="0">>', code: 'ERR_ATTRIBUTE_VALUE', at: ['0"'], says: 'pixels' },
    {
      name: 'loading',
      source: '<<widget loading="soon">>',
      code: 'ERR_ATTRIBUTE_VALUE',
      at: ['soon'],
      says: 'eager, lazy',
    },
    {
      name: 'fallback with .. inside the path',
      source: '<<widget fallback="partials/../../secrets">>',
      code: 'ERR_ATTRIBUTE_VALUE',
      at: ['partials/../../secrets'],
      says: "'fallback'",
    },
    {
      name: 'bad lang',
      source: '<<caramelo lang="en_US!">>',
      code: 'ERR_ATTRIBUTE_VALUE',
      at: ['en_US!'],
      says: "'lang'",
    },
    {
      name: 'missing value',
      source: '<<widget id>>',
      code: 'ERR_ATTRIBUTE_VALUE',
      at: ['id>>'],
      says: "missing value for 'id'",
    },
    {
      name: 'value not right after =',
      source: '<<widget id= "w1">>',
      code: 'ERR_ATTRIBUTE_VALUE',
      at: ['= ', 1],
      says: "missing value for 'id'",
    },
    {
      name: 'empty expression',
      source: '<<widget id={ }>>',
      code: 'ERR_ATTRIBUTE_VALUE',
      at: ['{'],
      says: "empty expression for 'id'",
    },
    {
      name: 'duplicate attribute',
      source: '<<widget id="a" id="b">>',
      code: 'ERR_ATTRIBUTE_DUPLICATE',
      at: ['id="b"'],
      says: "duplicate attribute 'id' on <<widget>> at templates/home.eta:1:17",
    },
    {
      name: 'directive never closed',
      source: 'x\n<<widget id="a"\n',
      code: 'ERR_DIRECTIVE_UNCLOSED',
      at: ['<<'],
      says: "unclosed directive '<<widget' at templates/home.eta:2:1",
    },
    {
      name: 'directive closed with a single >',
      source: '<<widget id="a">\ntext',
      code: 'ERR_DIRECTIVE_UNCLOSED',
      at: ['>'],
      says: 'unexpected ">"',
    },
    {
      name: 'attributes without white space between them',
      source: '<<widget id="a"color="dark">>',
      code: 'ERR_DIRECTIVE_UNCLOSED',
      at: ['color'],
      says: 'unexpected "c"',
    },
    {
      name: 'value never closed',
      source: '<<widget id="a>>',
      code: 'ERR_DIRECTIVE_UNCLOSED',
      at: ['"'],
      says: "unclosed value of 'id'",
    },
    {
      name: 'expression never closed',
      source: '<<widget id={it.a>>',
      code: 'ERR_DIRECTIVE_UNCLOSED',
      at: ['{'],
      says: "unclosed expression of 'id'",
    },
    {
      name: 'Eta tag never closed',
      source: '<p>\n<% if (it.x) {',
      code: 'ERR_ETA_SYNTAX',
      at: ['<%'],
      says: "unclosed Eta tag '<%' at templates/home.eta:2:1",
    },
    {
      name: 'string never closed inside an Eta tag',
      source: "<%= 'abc %>",
      code: 'ERR_ETA_SYNTAX',
      at: ["'"],
      says: 'unclosed string in Eta tag',
    },
    {
      name: 'NUL character',
      source: 'a\nb\u0000c',
      code: 'ERR_ETA_SYNTAX',
      at: ['\u0000'],
      says: 'NUL',
    },
    {
      name: 'bad value on the last line of a multi-line directive',
      source: '<p>\n<<widget\n  id="w1"\n  color="blu">>',
      code: 'ERR_ATTRIBUTE_VALUE',
      at: ['blu'],
      says: 'at templates/home.eta:4:10',
    },
  ]

  it.each(cases)('$name → $code', (c) => expectCompileError(c))

  it('gives a code frame with the line marked and a caret under the column', () => {
    const source = 'line one\nline two\n  <<widget colour="dark">>\nline four'
    const error = parseError(source)

    const frame = error.frame.split('\n')
    const marked = frame.findIndex((l) => l.startsWith('>'))
    expect(frame[marked]).toBe('> 3 |   <<widget colour="dark">>')
    const caret = frame[marked + 1] ?? ''
    expect(caret.trimEnd().endsWith('^')).toBe(true)
    expect(caret.indexOf('^')).toBe('> 3 | '.length + error.loc.column - 1)
    expect(frame[0]).toBe('  1 | line one')
    expect(frame.at(-1)).toBe('  4 | line four')
  })

  it('keeps messages lowercase and suggests the fix', () => {
    const error = parseError('<<card>>')

    expect(error.message).toMatch(/^[a-z]/)
    expect(error.message).toContain("write '\\<<' for a literal '<<'")
  })
})

describe('parse: a literal flow="…" is checked against that flow', () => {
  const cases: ErrorCase[] = [
    {
      name: 'loading on the SDK flow, which has no lazy document',
      source: '<p>\n  <<widget flow="sdk" loading="lazy">>',
      code: 'ERR_ATTRIBUTE_UNKNOWN',
      at: ['loading'],
      says:
        `unknown attribute 'loading' on <<widget flow="sdk">> at templates/home.eta:2:23 ` +
        `(flow 'sdk' takes type, id, color, title, height, fallback)`,
    },
    {
      name: 'loading written before the flow',
      source: '<<widget loading="eager" flow="sdk">>',
      code: 'ERR_ATTRIBUTE_UNKNOWN',
      at: ['loading'],
      says: "(flow 'sdk' takes type, id, color, title, height, fallback)",
    },
    {
      name: 'loading from an {expression} on the SDK flow',
      source: '<<widget flow="sdk" loading={it.loading}>>',
      code: 'ERR_ATTRIBUTE_UNKNOWN',
      at: ['loading'],
      says: 'unknown attribute \'loading\' on <<widget flow="sdk">>',
    },
    {
      name: 'a type the SDK has no element for',
      source: '<<widget flow="sdk" type="minigames">>',
      code: 'ERR_ATTRIBUTE_VALUE',
      at: ['minigames'],
      says:
        `bad value "minigames" for 'type' on <<widget flow="sdk">> at templates/home.eta:1:27 ` +
        '(expected one of store, channel, milestone, social, currency)',
    },
    {
      name: 'a flow no adapter declares',
      source: '<<widget flow="nope">>',
      code: 'ERR_ATTRIBUTE_VALUE',
      at: ['nope'],
      says: `bad value "nope" for 'flow' on <<widget>> at templates/home.eta:1:16 (expected one of proxy, sdk)`,
    },
    {
      name: 'flow on <<caramelo>>, which has one flow',
      source: '<<caramelo flow="proxy">>',
      code: 'ERR_ATTRIBUTE_UNKNOWN',
      at: ['flow'],
      says: "unknown attribute 'flow' on <<caramelo>> at templates/home.eta:1:12 (known: project, lang, fallback)",
    },
  ]

  it.each(cases)('$name → $code', (c) => expectCompileError(c))

  it('leaves a flow from an {expression} to render time, where the chosen flow checks the attributes', () => {
    const [widget] = directives(parse('<<widget flow={it.f} loading="lazy" type="minigames">>', FILE))

    expect(widget?.attributes.map((a) => [a.name, a.value])).toEqual([
      ['flow', { kind: 'expression', code: 'it.f' }],
      ['loading', { kind: 'literal', value: 'lazy' }],
      ['type', { kind: 'literal', value: 'minigames' }],
    ])
  })

  it('accepts what the named flow takes (control: the same attributes compile on the proxy flow)', () => {
    const found = directives(
      parse('<<widget flow="proxy" loading="lazy" type="minigames">><<widget flow="sdk" type="currency">>', FILE),
    )

    expect(found.map((d) => d.attributes.map((a) => a.name))).toEqual([
      ['flow', 'loading', 'type'],
      ['flow', 'type'],
    ])
  })

  it("without a flow, hints with the default flow's rule: what any flow takes compiles", () => {
    expect(directives(parse('<<widget type="minigames" loading="lazy">>', FILE))).toHaveLength(1)
    expect(parseError('<<widget type="../admin">>').message).toContain(
      '(expected one of store, channel, milestone, social, currency, minigames)',
    )
  })
})

describe("parse: the directives are the vendor adapters' vocabulary", () => {
  it('lists the directives of the vocabulary it is given when one is unknown', () => {
    expectCompileError(
      {
        name: 'unknown directive with an app adapter',
        source: '<<baner size="large">>',
        code: 'ERR_DIRECTIVE_UNKNOWN',
        at: ['baner'],
        says: "(known: widget, caramelo, banner; write '\\<<' for a literal '<<')",
      },
      ACME_VOCABULARY,
    )
  })

  it("parses an app adapter's directive with its own rules, and only when that adapter is registered", () => {
    const [banner] = directives(parse('<<banner size="large">>', FILE, ACME_VOCABULARY))

    expect(banner?.name).toBe('banner')
    expect(parseError('<<banner size="huge">>', ACME_VOCABULARY).message).toContain('(expected one of small, large)')
    // The built-in vocabulary, as the plugin has it without `vendors: [acmeBanner]`.
    expect(parseError('<<banner size="large">>').code).toBe('ERR_DIRECTIVE_UNKNOWN')
  })
})
