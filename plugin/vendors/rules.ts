/**
 * Attribute rules adapters build their vocabulary from. Each returns
 * `undefined` for a valid value, else the reason shown in the compile error
 * (`expected one of light, dark`). Every pattern is anchored and linear.
 */
import type { AttributeRule } from './define.ts'

/** One of `values`. */
export function oneOf(values: readonly string[]): AttributeRule {
  return (value) => (values.includes(value) ? undefined : `expected one of ${values.join(', ')}`)
}

/** Matches `pattern` (anchor it); `what` describes a valid value. */
export function matches(pattern: RegExp, what: string): AttributeRule {
  return (value) => (pattern.test(value) ? undefined : `expected ${what}`)
}

/** A whole number of pixels from 1 to 10000. */
export const pixels: AttributeRule = (value) => {
  const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN
  return n >= 1 && n <= 10000 ? undefined : 'expected a whole number of pixels from 1 to 10000'
}

/** Ids that go into a URL path: a strict character set rules out `..`, `/` and encoded tricks. */
export const identifier = matches(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ or - (at most 64)')

/** A BCP 47-shaped language tag (`en`, `pt-BR`). */
export const LANGUAGE_TAG = /^[a-zA-Z]{2,3}(?:-[a-zA-Z0-9]{2,8})*$/
export const languageTag = matches(LANGUAGE_TAG, "a language tag such as 'en' or 'pt-BR'")

/** Printable text without control characters (an iframe title is read by screen readers). */
// eslint-disable-next-line no-control-regex -- the pattern exists to refuse control characters
export const text = matches(/^[^\u0000-\u001f\u007f]{1,200}$/, 'text of 1 to 200 characters without control characters')

/** A partial's name: safe path segments, optionally led by `./` or `../` (resolved from the template). */
export const partialName = matches(
  /^(?:\.\.?\/)*(?!.*\/\.\.?(?:\/|$))[A-Za-z0-9_][A-Za-z0-9_./-]{0,127}$/,
  "a partial name such as 'partials/widget-fallback'",
)
