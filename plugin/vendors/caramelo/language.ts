/**
 * Caramelo's default `lang` when neither the directive nor the user sets one:
 * the best match of the request's `Accept-Language`.
 */
import { LANGUAGE_TAG } from '../rules.ts'

/** The highest-weighted well-formed tag of an `Accept-Language` header, if any. */
export function preferredLanguage(header: string | undefined): string | undefined {
  if (!header) return undefined
  let best: { tag: string; q: number } | undefined
  for (const part of header.split(',').slice(0, 32)) {
    const [rawTag, ...params] = part.trim().split(';')
    const tag = rawTag?.trim() ?? ''
    if (!LANGUAGE_TAG.test(tag)) continue
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    const q = qParam ? Number(qParam.slice(2)) : 1
    if (!(q > 0) || (best && best.q >= q)) continue
    best = { tag, q }
  }
  return best?.tag
}
