/**
 * The one way vendor calls leave this process: undici with a deadline, a cap
 * on the answer's size, no redirects, and errors turned into `VendorError`s
 * that name the cause and never the vendor's body. Each request is a client
 * span of its directive's (issue 12), and carries no trace header to the
 * vendor unless the app asked for it.
 */
import { context, propagation, SpanKind, trace, type Context } from '@opentelemetry/api'
import { suppressTracing } from '@opentelemetry/core'
import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions'
import { request, type Dispatcher } from 'undici'
import { VendorError } from '../../errors.ts'
import { ATTR, fail, type Tracing } from '../tracing.ts'

export interface VendorRequest {
  vendor: string
  dispatcher: Dispatcher
  url: URL
  method: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  /** Aborts the call; a `TimeoutError` reason is reported as `ERR_VENDOR_TIMEOUT`. */
  signal: AbortSignal
  maxBytes: number
  /** Trace the request as a child of `parent` (its directive's span); unset: untraced. */
  trace?: { tracing: Tracing; parent: Context }
}

export interface VendorAnswer {
  status: number
  contentType: string
  text: string
}

/** Sends one request and reads the whole answer, or throws a `VendorError`. */
export function vendorRequest(req: VendorRequest): Promise<VendorAnswer> {
  return req.trace ? traced(req, req.trace.tracing, req.trace.parent) : send(req, req.headers)
}

/**
 * The request as a client span (named by its method, as OpenTelemetry's HTTP
 * conventions say), with the server's address but no path or query.
 *
 * It is sent with tracing suppressed: an app's undici instrumentation would
 * otherwise add a span of its own and inject `traceparent` into every
 * request, to a third party included. Only with `propagateToVendors` do the
 * headers go out, written here from this span, without baggage (an app may
 * keep user data there).
 */
async function traced(req: VendorRequest, tracing: Tracing, parent: Context): Promise<VendorAnswer> {
  const { url } = req
  const span = tracing.tracer.startSpan(
    req.method,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        [ATTR_HTTP_REQUEST_METHOD]: req.method,
        [ATTR_SERVER_ADDRESS]: url.hostname,
        [ATTR_SERVER_PORT]: Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
        [ATTR_URL_SCHEME]: url.protocol.slice(0, -1),
        [ATTR.vendor]: req.vendor,
      },
    },
    parent,
  )
  const spanContext = trace.setSpan(parent, span)
  let headers = req.headers
  if (tracing.propagateToVendors) {
    const carrier: Record<string, string> = {}
    propagation.inject(propagation.deleteBaggage(spanContext), carrier)
    headers = { ...headers, ...carrier }
  }
  try {
    const answer = await context.with(suppressTracing(spanContext), () => send(req, headers))
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, answer.status)
    return answer
  } catch (error) {
    if (error instanceof VendorError && error.status !== undefined) {
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, error.status)
    }
    // Stopped by us (the page no longer needs it): not the vendor failing.
    if (req.signal.aborted && !timedOut(req.signal)) span.setAttribute(ATTR.outcome, 'aborted')
    else fail(span, error)
    throw error
  } finally {
    span.end()
  }
}

async function send(req: VendorRequest, headers: Record<string, string> | undefined): Promise<VendorAnswer> {
  let res: Dispatcher.ResponseData
  try {
    res = await request(req.url, {
      dispatcher: req.dispatcher,
      method: req.method,
      headers,
      body: req.body,
      signal: req.signal,
    })
  } catch (error) {
    throw classify(req, error)
  }
  // A body we destroy (too large), or one aborted by the deadline before or
  // between reads, emits 'error'; with no listener that would be an uncaught
  // exception taking the whole server down. Reads still see the error.
  res.body.on('error', ignore)
  const contentType = String(res.headers['content-type'] ?? '')
  if (res.statusCode < 200 || res.statusCode > 299) {
    // Drain without reading: the vendor's error body is never surfaced (STYLE rule 5).
    await res.body.dump().catch(() => undefined)
    throw new VendorError(req.vendor, 'ERR_VENDOR_STATUS', `${req.vendor} answered status ${res.statusCode}`, {
      status: res.statusCode,
    })
  }
  const text = await readCapped(req, res)
  return { status: res.statusCode, contentType, text }
}

async function readCapped(req: VendorRequest, res: Dispatcher.ResponseData): Promise<string> {
  const declared = Number(res.headers['content-length'] ?? NaN)
  if (declared > req.maxBytes) {
    res.body.destroy()
    throw tooLarge(req, res.statusCode)
  }
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of res.body) {
      const buf = chunk as Buffer
      size += buf.length
      if (size > req.maxBytes) {
        res.body.destroy()
        throw tooLarge(req, res.statusCode)
      }
      chunks.push(buf)
    }
  } catch (error) {
    throw error instanceof VendorError ? error : classify(req, error)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function ignore(): void {
  // The error is reported where the body is read, or was ours (see above).
}

function tooLarge(req: VendorRequest, status: number): VendorError {
  return new VendorError(req.vendor, 'ERR_VENDOR_BODY', `${req.vendor} answer exceeds ${req.maxBytes} bytes`, {
    status,
  })
}

/** undici's error codes for its own timers running out. */
const POOL_TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

function timedOut(signal: AbortSignal): boolean {
  const reason: unknown = signal.aborted ? signal.reason : undefined
  return reason instanceof Error && reason.name === 'TimeoutError'
}

function classify(req: VendorRequest, error: unknown): VendorError {
  if (error instanceof VendorError) return error
  if (timedOut(req.signal)) {
    return new VendorError(req.vendor, 'ERR_VENDOR_TIMEOUT', `${req.vendor} did not answer before the deadline`, {
      cause: error,
    })
  }
  const code = (error as { code?: unknown } | null)?.code
  // The pool's own connect, headers and body timers are set at the deadline
  // too, and undici's coarse timers may fire before the signal's: either way
  // the vendor did not answer in time.
  if (typeof code === 'string' && POOL_TIMEOUTS.has(code)) {
    return new VendorError(req.vendor, 'ERR_VENDOR_TIMEOUT', `${req.vendor} did not answer before the deadline`, {
      cause: error,
    })
  }
  const detail = typeof code === 'string' ? ` (${code})` : ''
  return new VendorError(req.vendor, 'ERR_VENDOR_NETWORK', `${req.vendor} could not be reached${detail}`, {
    cause: error,
  })
}

/** Parses a JSON answer, or throws `ERR_VENDOR_BODY` without quoting the body. */
export function parseJson(vendor: string, answer: VendorAnswer): unknown {
  try {
    return JSON.parse(answer.text)
  } catch (error) {
    throw new VendorError(vendor, 'ERR_VENDOR_BODY', `${vendor} answered a body that is not JSON`, {
      cause: error,
      status: answer.status,
    })
  }
}
