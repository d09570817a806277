/**
 * The compiled module's source map (issue 13): every token of the author's
 * code in the module maps back to the same token in the `.eta` file, so a
 * stack trace through a template names the line and column the author wrote.
 */
import { eachMapping, originalPositionFor, TraceMap } from '@jridgewell/trace-mapping'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileTemplate } from './codegen.ts'

const FILE = 'templates/home.eta'

/** 1-based line and column of the `nth` (0-based) occurrence of `needle` in `text`. */
function positionOf(text: string, needle: string, nth = 0): { line: number; column: number } {
  let offset = -1
  for (let i = 0; i <= nth; i++) {
    offset = text.indexOf(needle, offset + 1)
    if (offset === -1) throw new Error(`'${needle}' is not in the text ${nth + 1} times`)
  }
  const before = text.slice(0, offset).split('\n')
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 }
}

/** Where the source map sends the `nth` `needle` of the compiled module. */
function traced(source: string, needle: string, nth = 0): { line: number; column: number } {
  const { code, map } = compileTemplate(source, FILE)
  const at = positionOf(code, needle, nth)
  const original = originalPositionFor(new TraceMap(map), { line: at.line, column: at.column - 1 })
  expect(original.source).toBe(FILE)
  return { line: original.line ?? 0, column: (original.column ?? -1) + 1 }
}

describe('compileTemplate: source map', () => {
  it("maps each token of a tag's code to the author's line and column", () => {
    const source = '<main>\n  <p>Hi <%= it.user.profile.city %></p>\n  <%~ it.raw %>\n</main>\n'
    expect(traced(source, 'city')).toEqual(positionOf(source, 'city'))
    expect(traced(source, 'profile')).toEqual(positionOf(source, 'profile'))
    expect(traced(source, 'raw')).toEqual(positionOf(source, 'raw'))
  })

  it('maps a tag that spans lines, CRLF line ends included', () => {
    const source =
      '<ul>\r\n<% for (const item of it.items) {\r\n     const label = item.name.trim() %>\r\n<li><%= label %></li>\r\n<% } %>\r\n</ul>'
    expect(traced(source, 'trim')).toEqual(positionOf(source, 'trim'))
    expect(traced(source, 'label', 1)).toEqual(positionOf(source, 'label', 1))
    expect(traced(source, 'items')).toEqual(positionOf(source, 'items'))
  })

  it("maps an {expression} attribute's code and the directive's call", () => {
    const source = '<section>\n  <<widget type="channel" id={it.channels.first.id} title="News">>\n</section>'
    expect(traced(source, 'first')).toEqual(positionOf(source, 'first'))
    expect(traced(source, '__host.embed')).toEqual(positionOf(source, '<<widget'))
  })

  it("maps Eta's rendering of the layout to the template's layout() call", () => {
    const source = "<% layout('layout', { title: it.title }) %>\n<h1>Hi</h1>\n"
    expect(traced(source, 'include (__eta.layout')).toEqual(positionOf(source, 'layout('))
  })

  it('maps a line of Eta output to its tag, from the line start (the escape call before the code)', () => {
    const source = '<p>\n  <%= it.name %>\n</p>'
    expect(traced(source, '__eta.e(it.name)')).toEqual(positionOf(source, '<%='))
  })

  it('leaves text and Eta helpers unmapped', () => {
    const { code, map } = compileTemplate('<p>static</p>\n', FILE)
    const at = positionOf(code, 'let include')
    expect(originalPositionFor(new TraceMap(map), { line: at.line, column: at.column - 1 }).source).toBeNull()
    expect(map).toMatchObject({ version: 3, sources: [FILE], sourcesContent: ['<p>static</p>\n'] })
  })

  it('maps every token to the same text in the source, whatever the template (property)', () => {
    const identifier = fc.constantFrom('it', 'user', 'name', 'x1', 'ünï', '$d', '_e')
    const expression = fc
      .array(identifier, { minLength: 1, maxLength: 4 })
      .map((parts) => parts.join('.'))
      .chain((e) => fc.constantFrom(e, `(${e})`, `${e} ?? 'x'`, `${e}\n  + 1`, `${e}\r\n  .y`))
    const piece = fc.oneof(
      fc.constantFrom('<p>', 'text', '\n', '\r\n', '  ', "'quote'", '"dq"', '\\', '\u2028', '<<'),
      expression.map((e) => `<%= ${e} %>`),
      expression.map((e) => `<%~${e}-%>`),
      expression.map((e) => `<%_ void (${e}); _%>`),
      expression.map((e) => `<<widget id={${e}}>>`),
    )
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const source = pieces.join('').replace(/<<(?!widget)/g, '\\<<')
        const { code, map } = compileTemplate(source, FILE)
        const generated = code.split(/\r\n|[\n\r\u2028\u2029]/)
        const original = source.split('\n')
        eachMapping(new TraceMap(map), (m) => {
          const at = generated[m.generatedLine - 1]?.[m.generatedColumn]
          const from = original[(m.originalLine ?? 0) - 1]?.slice(m.originalColumn ?? 0) ?? ''
          // A call, a line's start and the layout map to the directive, the tag or the call itself.
          if (/^(<<|<%|layout\()/.test(from)) return
          expect(at).toBe(from[0])
        })
      }),
    )
  })
})
