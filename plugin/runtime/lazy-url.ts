/**
 * The lazy-widget route serves only widgets the app's own templates asked
 * for (issue 9, hole 1): the frame's URL carries the widget's type, id,
 * colour and fallback plus an HMAC over them, made while the page renders.
 * A URL a user writes by hand — another id to hammer the vendor with, a
 * `fallback=login` to render any template — has no valid signature and is
 * refused before anything else runs. Signing instead of an allow-list keeps
 * `{expression}` ids working, which no list made at build time can know.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { WidgetAttributes } from '../directives.ts'

/** The attributes the lazy route needs, in the order they are signed. */
export const LAZY_ATTRIBUTES = ['type', 'id', 'color', 'fallback'] as const
export type LazyAttributes = Pick<WidgetAttributes, (typeof LAZY_ATTRIBUTES)[number]>

const SIGNATURE_PARAM = 'sig'
// A version and a purpose in what is signed, so a MAC made here can never
// stand for anything else made with the same key.
const CONTEXT = 'eta-embeds lazy widget v1'

/** Signs and verifies lazy-widget URLs; the first key signs, every key verifies (so keys can be rotated). */
export class LazyUrlSigner {
  private readonly keys: readonly Buffer[]

  constructor(keys: readonly Buffer[]) {
    if (!keys.length) throw new TypeError('LazyUrlSigner needs at least one key')
    this.keys = keys
  }

  /** The route's query string for `attrs`, signature included. */
  query(attrs: LazyAttributes): string {
    const query = new URLSearchParams()
    for (const name of LAZY_ATTRIBUTES) {
      const value = attrs[name]
      if (value !== undefined) query.set(name, value)
    }
    query.set(SIGNATURE_PARAM, this.mac(this.keys[0] as Buffer, attrs))
    return query.toString()
  }

  /**
   * The signed attributes of a request's query, or `undefined` when the
   * signature is missing, repeated or does not match. Parameters that are not
   * signed are ignored, never used.
   */
  verify(query: Record<string, string | string[] | undefined>): LazyAttributes | undefined {
    const signature = query[SIGNATURE_PARAM]
    if (typeof signature !== 'string') return undefined
    const attrs: LazyAttributes = {}
    for (const name of LAZY_ATTRIBUTES) {
      const value = query[name]
      if (Array.isArray(value)) return undefined
      if (value !== undefined) attrs[name] = value
    }
    const given = Buffer.from(signature)
    const matches = this.keys.some((key) => {
      const expected = Buffer.from(this.mac(key, attrs))
      return expected.length === given.length && timingSafeEqual(expected, given)
    })
    return matches ? attrs : undefined
  }

  private mac(key: Buffer, attrs: LazyAttributes): string {
    // JSON of a fixed-order array: unambiguous whatever the values contain,
    // and an absent attribute (`null`) differs from an empty one.
    const signed = JSON.stringify([CONTEXT, ...LAZY_ATTRIBUTES.map((name) => attrs[name] ?? null)])
    return createHmac('sha256', key).update(signed).digest('base64url')
  }
}
