/**
 * Checks for option values, shared by the runtime's options and the vendor
 * adapters'. Every message names the option by its full path
 * (`options.breaker.cooldownMs must be a positive integer, got -1`).
 */

/** An integer of at least `min`, `fallback` when unset. */
export function integer(path: string, value: number | undefined, fallback: number, min = 1): number {
  const v = value ?? fallback
  if (!Number.isInteger(v) || v < min) {
    const kind =
      min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : `an integer of at least ${min}`
    throw new TypeError(`${path} must be ${kind}, got ${String(value)}`)
  }
  return v
}

/** A non-empty string. */
export function required(path: string, value: unknown): string {
  if (typeof value !== 'string' || !value) throw new TypeError(`${path} is required (a non-empty string)`)
  return value
}

/** An object of options, or `undefined`; anything else is refused rather than ignored. */
export function optionsObject<T extends object>(path: string, value: T | undefined): T | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${path} must be an object, got ${Array.isArray(value) ? 'an array' : String(value)}`)
  }
  return value
}

/**
 * An absolute http(s) URL without a trailing slash. A vendor URL reaches
 * browsers (`<base href>`, a script's `src`), so credentials in it would be
 * served to every user: refused, never stripped silently (the vendor would
 * then answer 401 with no clue why).
 */
export function httpUrl(path: string, value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new TypeError(`${path} must be an absolute http(s) URL, got '${withoutUserInfo(String(value))}'`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`${path} must be an http(s) URL, got '${withoutUserInfo(value)}'`)
  }
  if (url.username || url.password) {
    throw new TypeError(
      `${path} must not contain a user name or password, got '${withoutUserInfo(value)}' ` +
        '(vendor URLs are sent to browsers; pass credentials in the vendor options instead)',
    )
  }
  return url.href.replace(/\/+$/, '')
}

/** `value` with anything before an `@` in its authority masked: error messages never repeat a password. */
export function withoutUserInfo(value: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(value)?.[0] ?? ''
  const rest = value.slice(scheme.length)
  const authorityEnd = rest.search(/[/?#]/)
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd)
  const at = authority.lastIndexOf('@')
  return at === -1 ? value : `${scheme}***${rest.slice(at)}`
}

/** An absolute URL path for a route (`lazyPath`, `metricsPath`); `example` shows one. */
export function urlPath(path: string, value: string, example: string): string {
  if (!/^\/[A-Za-z0-9_\-/.]*$/.test(value) || value.includes('//') || value.includes('..')) {
    throw new TypeError(`${path} must be an absolute URL path such as '${example}', got '${value}'`)
  }
  return value
}

/** One of `values`. */
export function oneOfOption<T extends string>(path: string, value: T, values: readonly T[]): T {
  if (!values.includes(value)) throw new TypeError(`${path} must be one of ${values.join(', ')}, got '${value}'`)
  return value
}
