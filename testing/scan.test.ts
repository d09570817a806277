/**
 * The scan finds a value raw and in every encoding a leak would use, says where and in which form, and
 * never repeats the value: every form of it in an excerpt is masked, even one cut by the excerpt's edge.
 */
import { describe, expect, it } from 'vitest'
import type { Entry } from './entries.ts'
import { describeFound, encodings, scan } from './scan.ts'

const NEEDLE = 'tok+en/"<x>&\'é-1234'

describe('scan', () => {
  it('finds a value raw and in every encoding a leak would use, and says where', () => {
    const places: Entry[] = [
      { kind: 'response body', where: 'base64 at offset 1', text: Buffer.from(`a${NEEDLE}b`).toString('base64') },
      { kind: 'cookie', where: 'base64url at offset 2', text: Buffer.from(`ab${NEEDLE}`).toString('base64url') },
      { kind: 'request url', where: 'query', text: `/?q=${encodeURIComponent(NEEDLE)}` },
      { kind: 'response body', where: 'json', text: JSON.stringify({ NEEDLE }) },
      {
        kind: 'response body',
        where: 'attribute',
        text: `<p title="${NEEDLE.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll("'", '&#39;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')}">`,
      },
      { kind: 'log', where: 'unrelated', text: 'tok en nothing here' },
    ]
    expect(describeFound(scan(places, NEEDLE)).map((line) => line.split(' [')[0])).toEqual([
      'base64 at offset 1',
      'base64url at offset 2',
      'query',
      'json',
      'attribute',
    ])
    expect(scan(places, NEEDLE).map((found) => found.encoding)).toEqual([
      'base64 (offset 1)',
      // Its base64 at this offset has no `+` or `/`: the base64url form is the same, found under base64.
      'base64 (offset 2)',
      'encodeURIComponent',
      'JSON-escaped',
      'HTML-escaped',
    ])
    expect(() => encodings('short')).toThrow(/too short/)
  })

  it('masks every form of the value in an excerpt, and widens it rather than cut one', () => {
    const secret = 'canary-widget-api-key-0f1e2d3c4b5a'
    const b64 = Buffer.from(`x${secret}`).toString('base64')
    const text = `${'a'.repeat(100)}first=${secret}&again=${encodeURIComponent(secret)} then ${b64} ${'b'.repeat(30)}${secret}`
    const [found] = scan([{ kind: 'log', where: 'line 1', text }], secret, 'WIDGET_API_KEY')
    expect(found?.encoding).toBe('raw')
    const excerpt = found?.excerpt ?? ''
    expect(excerpt).toContain('first=⟦WIDGET_API_KEY⟧&again=⟦WIDGET_API_KEY⟧')
    for (const { value } of encodings(secret)) expect(excerpt).not.toContain(value)
    // Nothing of the value is left at the excerpt's edges either.
    expect(excerpt).not.toMatch(/canary|0f1e2d/)
    const [line] = describeFound([found!])
    expect(line).toMatch(/^line 1 \[raw\]: …a+first=⟦WIDGET_API_KEY⟧/)
  })

  it('masks the value in the place too: a URL that names where it was may hold it', () => {
    const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2ln'
    const url = `http://127.0.0.1:4000/track?widget=${token}`
    const found = scan([{ kind: 'request url', where: `GET ${url} → URL`, url, text: url }], token, 'token')
    expect(describeFound(found)).toEqual([
      'GET http://127.0.0.1:4000/track?widget=⟦token⟧ → URL [raw]: …http://127.0.0.1:4000/track?widget=⟦token⟧…',
    ])
  })
})
