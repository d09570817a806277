/**
 * The load generator of `npm run bench`: autocannon over a fixed number of
 * keep-alive connections for a fixed time (a closed loop: each connection
 * sends its next request when the previous answer has arrived).
 */
import autocannon from 'autocannon'

/** What one load run saw. */
export interface Load {
  /** Measured duration, seconds. */
  seconds: number
  /** Answers received, any status. */
  responses: number
  /** Requests sent, the ones still unanswered when the load stopped included. */
  sent: number
  non2xx: number
  /** Connection errors and timeouts. */
  errors: number
  /** Latencies of the 2xx answers, in milliseconds, sorted. */
  latencies: Float64Array
}

/** `durationS` seconds of load on `url` over `connections` connections. */
export function load(
  url: string,
  headers: Record<string, string>,
  connections: number,
  durationS: number,
): Promise<Load> {
  const latencies: number[] = []
  let non2xx = 0
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      { url, headers, connections, duration: durationS, timeout: 10 },
      (error: unknown, result) => {
        if (error) return reject(error instanceof Error ? error : new Error('autocannon failed', { cause: error }))
        resolve({
          seconds: result.duration,
          responses: latencies.length + non2xx,
          sent: result.requests.sent,
          non2xx,
          errors: result.errors,
          latencies: Float64Array.from(latencies).sort(),
        })
      },
    )
    // autocannon's own histogram keeps whole milliseconds; these are exact.
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latencies.push(ms)
      else non2xx++
    })
  })
}

/** The `q` quantile (0–1) of sorted values, nearest rank; NaN when there are none. */
export function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN
}
