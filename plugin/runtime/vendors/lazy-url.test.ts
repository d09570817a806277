import { describe, expect, it } from 'vitest'
import { LazyUrlSigner } from './lazy-url.ts'

const KEY = Buffer.from('key-one-0123456789abcdef')
const OLD_KEY = Buffer.from('key-old-0123456789abcdef')

/** A query string as Koa hands it to the route: repeated names become arrays. */
function parsed(query: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [name, value] of new URLSearchParams(query)) {
    const seen = out[name]
    out[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value]
  }
  return out
}

describe('LazyUrlSigner', () => {
  const signer = new LazyUrlSigner([KEY])
  const query = signer.query('returning-proxy', { type: 'store', id: 'w1', fallback: 'partials/none' })

  it('names the vendor first, then every attribute sorted by name, then the signature', () => {
    expect(query).toMatch(/^vendor=returning-proxy&fallback=partials%2Fnone&id=w1&type=store&sig=[\w-]{43}$/)
  })

  it('gives back the vendor and the attributes it signed', () => {
    expect(signer.verify(parsed(query))).toEqual({
      vendor: 'returning-proxy',
      attributes: { fallback: 'partials/none', id: 'w1', type: 'store' },
    })
  })

  it.each([
    ['another vendor', query.replace('vendor=returning-proxy', 'vendor=acme')],
    ['another value', query.replace('id=w1', 'id=w2')],
    ['a parameter added', `${query}&color=dark`],
    ['a parameter removed', query.replace('type=store&', '')],
    ['a parameter repeated', `${query}&id=w1`],
    ['the signature repeated', `${query}&sig=x`],
    ['no signature', query.replace(/&sig=.*$/, '')],
    ['no vendor', query.replace('vendor=returning-proxy&', '')],
  ])('refuses %s', (_case, tampered) => {
    expect(signer.verify(parsed(tampered))).toBeUndefined()
  })

  it('verifies with every key but signs with the first, so keys can be rotated', () => {
    const old = new LazyUrlSigner([OLD_KEY]).query('returning-proxy', { id: 'w1' })
    const rotated = new LazyUrlSigner([KEY, OLD_KEY])
    expect(rotated.verify(parsed(old))).toEqual({ vendor: 'returning-proxy', attributes: { id: 'w1' } })
    expect(rotated.query('returning-proxy', { id: 'w1' })).not.toBe(old)
    expect(new LazyUrlSigner([KEY]).verify(parsed(old))).toBeUndefined()
  })

  it('keeps values that look like other parameters apart', () => {
    const tricky = signer.query('returning-proxy', { id: 'w1&sig=x', title: 'a=b' })
    expect(signer.verify(parsed(tricky))?.attributes).toEqual({ id: 'w1&sig=x', title: 'a=b' })
  })
})
