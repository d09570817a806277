import { describe, expect, it } from 'vitest'
import { escapeHtml, jsonForScript, jsStringLiteral } from './encode.ts'

const HOSTILE = `"</script><script>alert('x')</script>&amp;\u2028\u2029`

describe('escapeHtml', () => {
  it('escapes every character that can end text or a quoted attribute', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    )
  })

  it('escapes & first, so existing entities are shown, not decoded', () => {
    expect(escapeHtml('&lt;')).toBe('&amp;lt;')
  })

  it('leaves other text alone', () => {
    expect(escapeHtml('plain text — ünïcode\u2028')).toBe('plain text — ünïcode\u2028')
  })
})

describe.each([
  ['jsStringLiteral', (v: string) => jsStringLiteral(v)],
  ['jsonForScript', (v: string) => jsonForScript(v)],
])('%s', (_name, encode) => {
  it('cannot end the script element or the statement', () => {
    const out = encode(HOSTILE)

    expect(out).not.toMatch(/[<>&'\u2028\u2029]/)
    expect(out).toContain('\\u003c/script\\u003e')
    expect(out).toContain('\\u2028')
    expect(out).toContain('\\u2029')
    expect(out).toContain('\\u0027')
    expect(out).toContain('\\u0026')
    // The only `"` left are the literal's own quotes and escaped ones.
    expect(out.replace(/\\"/g, '').slice(1, -1)).not.toContain('"')
  })

  it('still means the same string to JavaScript', () => {
    expect(JSON.parse(encode(HOSTILE))).toBe(HOSTILE)
  })
})

describe('jsonForScript', () => {
  it('encodes objects with the same rules', () => {
    const value = { token: '</script>', project_id: "p'1" }
    const out = jsonForScript(value)

    expect(out).toBe('{"token":"\\u003c/script\\u003e","project_id":"p\\u00271"}')
    expect(JSON.parse(out)).toEqual(value)
  })
})
