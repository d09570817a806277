import { describe, expect, it } from 'vitest'
import { findSecrets, needlesFor } from './scan.ts'

const secret = { label: 'WIDGET_API_KEY', value: 'rai_live_5f2c9a71d3e8' }
const needles = needlesFor(secret)

describe('findSecrets', () => {
  it('finds the value as written, by label only', () => {
    expect(findSecrets(`const k = "${secret.value}"`, needles)).toEqual([{ label: 'WIDGET_API_KEY', encoding: 'raw' }])
  })

  it('finds nothing in output without the secret', () => {
    expect(findSecrets('const k = "rai_live_5f2c9a71d3e"', needles)).toEqual([])
  })

  // An inline source map is base64 of a whole JSON document: the secret can sit at any byte offset.
  it.each([0, 1, 2, 3, 4, 5])('finds it inside a longer base64 text, %i bytes in', (offset) => {
    const document = `${'x'.repeat(offset)}{"sourcesContent":["// ${secret.value}"]}`
    const inline = `//# sourceMappingURL=data:application/json;base64,${Buffer.from(document).toString('base64')}`
    expect(findSecrets(inline, needles)).toEqual([{ label: 'WIDGET_API_KEY', encoding: 'base64' }])
  })

  it('finds it as base64url', () => {
    // Bytes whose base64 has '+' and '/', so base64url differs.
    const odd = { label: 'WIDGET_API_KEY', value: '??>>key>>??value~~' }
    const encoded = Buffer.from(odd.value).toString('base64url')
    expect(encoded).not.toBe(Buffer.from(odd.value).toString('base64'))
    expect(findSecrets(encoded, needlesFor(odd))).toEqual([{ label: 'WIDGET_API_KEY', encoding: 'base64url' }])
  })

  it('finds it as hex', () => {
    const hex = Buffer.from(secret.value).toString('hex').toUpperCase()
    expect(findSecrets(hex, needles)).toEqual([{ label: 'WIDGET_API_KEY', encoding: 'hex' }])
  })

  const special = { label: 'SESSION_KEYS', value: 'k"e\\y/with spaces&more' }
  it.each([
    ['JSON-escaped', JSON.stringify({ k: special.value })],
    ['JSON-escaped', JSON.stringify(JSON.stringify({ k: special.value }))],
    ['URL-encoded', `https://example.test/?k=${encodeURIComponent(special.value)}`],
    ['URL-encoded', new URLSearchParams({ k: special.value }).toString()],
  ] as const)('finds a value with special characters %s', (encoding, output) => {
    expect(findSecrets(output, needlesFor(special))).toEqual([{ label: 'SESSION_KEYS', encoding }])
  })

  it('scans binary assets', () => {
    const asset = new Uint8Array([0, 255, ...Buffer.from(secret.value), 7])
    expect(findSecrets(asset.subarray(1), needles)).toEqual([{ label: 'WIDGET_API_KEY', encoding: 'raw' }])
  })
})
