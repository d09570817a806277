/**
 * The counters' route (issue 9, hole 7). Breaker states and failure causes
 * tell an attacker when a vendor is down and how our calls fail, so they go
 * only to the bearer of `metricsToken`; Prometheus sends it from its scrape
 * config (`authorization: { credentials_file: … }`). A token, not "loopback
 * only": behind a reverse proxy on the same host every request comes from
 * loopback. There is no anonymous mode; an app that wants its counters public
 * can serve its registry (`middleware.metrics.registry`) from a route of its own.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { Context } from 'koa'
import { urlPath } from '../check.ts'
import type { EmbedsMetrics } from '../metrics.ts'

export interface MetricsRouteOptions {
  /**
   * Serve the metrics registry (the runtime's metrics — vendor calls,
   * failures by cause, latencies, cache lookups and misses, breaker states —
   * and, with `metrics.registry`, the app's own) in Prometheus text format at
   * this path, to requests with `Authorization: Bearer <metricsToken>`; anyone
   * else gets 401. Off unless set, and needs `metricsToken`. @example '/metrics'
   */
  metricsPath?: string
  /**
   * The bearer token `metricsPath` asks for: 16 or more of the characters a
   * bearer token may hold (letters, digits, `-._~+/`, trailing `=`), such as
   * 32 random bytes in base64url. A secret: it is never logged or echoed.
   * @example process.env.METRICS_TOKEN
   */
  metricsToken?: string
}

export interface ResolvedMetricsRoute {
  path: string
  /** SHA-256 of the token: what a request's token is compared with, in constant time. */
  tokenDigest: Buffer
}

/** RFC 6750's b64token, at a length no one guesses over HTTP. */
const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]{16,}=*$/

/** Checks the route's options; `undefined` when there is no route. Messages never hold the token. */
export function resolveMetricsRoute(options: MetricsRouteOptions): ResolvedMetricsRoute | undefined {
  const { metricsPath, metricsToken } = options
  if (metricsPath === undefined) {
    if (metricsToken !== undefined) {
      throw new TypeError(
        "options.metricsToken is set but options.metricsPath is not: set metricsPath (e.g. '/metrics') to serve the counters",
      )
    }
    return undefined
  }
  const path = urlPath('options.metricsPath', metricsPath, '/metrics')
  if (!metricsToken) {
    throw new TypeError(
      'options.metricsPath needs options.metricsToken: the counters are served only to the bearer of a token ' +
        '(e.g. 32 random bytes as base64url)',
    )
  }
  if (!BEARER_TOKEN.test(metricsToken)) {
    throw new TypeError(
      `options.metricsToken must be 16 or more characters, each a letter, a digit or one of - . _ ~ + / ` +
        `(then = signs), got ${metricsToken.length} characters that are not`,
    )
  }
  return { path, tokenDigest: digest(metricsToken) }
}

/** Answers the registry's metrics to the token's bearer, and 401 with no detail to anyone else. */
export async function serveMetrics(ctx: Context, route: ResolvedMetricsRoute, metrics: EmbedsMetrics): Promise<void> {
  ctx.set('Cache-Control', 'no-store')
  if (!authorized(ctx.get('authorization'), route.tokenDigest)) {
    ctx.set('WWW-Authenticate', 'Bearer realm="metrics"')
    ctx.status = 401
    return
  }
  const body = await metrics.prometheus()
  ctx.type = metrics.contentType
  ctx.body = body
}

function authorized(header: string, expected: Buffer): boolean {
  // The scheme is case-insensitive (RFC 9110 §11.1); the token is not.
  const presented = /^bearer +(\S+) *$/i.exec(header)?.[1]
  if (presented === undefined) return false
  // Digests of equal length whatever was sent: the comparison takes the same
  // time for a near miss as for garbage, so timing reveals nothing of the token.
  return timingSafeEqual(digest(presented), expected)
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest()
}
