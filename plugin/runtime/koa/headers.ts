/**
 * The response headers of anything that may carry a token (SPEC invariant 4):
 * never stored, never sent on as a Referer, and running only the scripts that
 * carry this response's nonce.
 */
import { randomBytes } from 'node:crypto'
import type { Context } from 'koa'

/** A fresh CSP nonce: 128 random bits. */
export function newNonce(): string {
  return randomBytes(16).toString('base64')
}

/**
 * Sets the token-page headers. `base-uri` admits the vendor origin because a
 * widget document (srcdoc, or the lazy route's) resolves its relative URLs
 * through `<base href>` and inherits or carries this policy.
 */
export function setTokenPageHeaders(ctx: Context, nonce: string, vendorOrigins: string[], extra: string[] = []): void {
  ctx.set('Cache-Control', 'no-store')
  ctx.vary('Cookie')
  ctx.set('Referrer-Policy', 'no-referrer')
  ctx.set(
    'Content-Security-Policy',
    [
      `script-src 'nonce-${nonce}' 'strict-dynamic'`,
      `object-src 'none'`,
      `base-uri 'self'${vendorOrigins.length ? ` ${vendorOrigins.join(' ')}` : ''}`,
      `frame-ancestors 'self'`,
      ...extra,
    ].join('; '),
  )
}
