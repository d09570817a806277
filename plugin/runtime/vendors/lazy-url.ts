/**
 * The lazy route serves only frames the app's own templates asked for
 * (issue 9, hole 1): the frame's URL carries the vendor's name and the
 * directive's attributes plus an HMAC over all of them, made while the page
 * renders. A URL a user writes by hand — another id to hammer the vendor
 * with, a `fallback=login` to render any template, a parameter added or
 * repeated — has no valid signature and is refused before anything else runs.
 * Signing instead of an allow-list keeps `{expression}` ids working, which no
 * list made at build time can know.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

const VENDOR_PARAM = 'vendor'
const SIGNATURE_PARAM = 'sig'
// A version and a purpose in what is signed, so a MAC made here can never
// stand for anything else made with the same key.
const CONTEXT = 'eta-embeds lazy frame v2'

/** What a signed lazy URL stands for. */
export interface LazyTarget {
  vendor: string
  attributes: Record<string, string>
}

/** Signs and verifies lazy-frame URLs; the first key signs, every key verifies (so keys can be rotated). */
export class LazyUrlSigner {
  private readonly keys: readonly Buffer[]

  constructor(keys: readonly Buffer[]) {
    if (!keys.length) throw new TypeError('LazyUrlSigner needs at least one key')
    this.keys = keys
  }

  /** The route's query string for `vendor` with `attributes`, signature included. */
  query(vendor: string, attributes: Readonly<Record<string, string>>): string {
    const query = new URLSearchParams({ [VENDOR_PARAM]: vendor })
    for (const [name, value] of Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (name !== VENDOR_PARAM && name !== SIGNATURE_PARAM) query.set(name, value)
    }
    query.set(SIGNATURE_PARAM, this.mac(this.keys[0] as Buffer, query))
    return query.toString()
  }

  /**
   * What a request's query stands for, or `undefined` when the signature is
   * missing or does not match, or any parameter is repeated. Every parameter
   * is signed: one added by hand breaks the signature.
   */
  verify(query: Record<string, string | string[] | undefined>): LazyTarget | undefined {
    const signature = query[SIGNATURE_PARAM]
    const vendor = query[VENDOR_PARAM]
    if (typeof signature !== 'string' || typeof vendor !== 'string') return undefined
    const signed = new URLSearchParams({ [VENDOR_PARAM]: vendor })
    const attributes: Record<string, string> = {}
    for (const name of Object.keys(query).sort()) {
      const value = query[name]
      if (Array.isArray(value)) return undefined
      if (name === VENDOR_PARAM || name === SIGNATURE_PARAM || value === undefined) continue
      signed.set(name, value)
      attributes[name] = value
    }
    const given = Buffer.from(signature)
    const matches = this.keys.some((key) => {
      const expected = Buffer.from(this.mac(key, signed))
      return expected.length === given.length && timingSafeEqual(expected, given)
    })
    return matches ? { vendor, attributes } : undefined
  }

  private mac(key: Buffer, params: URLSearchParams): string {
    // JSON of the pairs in order: unambiguous whatever the values contain.
    const signed = JSON.stringify([CONTEXT, ...params.entries()])
    return createHmac('sha256', key).update(signed).digest('base64url')
  }
}
