/**
 * One directive's vendor work, the same for every adapter and for both the
 * page and the lazy route: its own deadline, the vendor's circuit breaker and
 * counters, its span and latency, a handle to abort it, and — when it fails —
 * one log line and the fallback.
 */
import { context } from '@opentelemetry/api'
import { EmbedsError, VendorError } from '../../errors.ts'
import type { Embed, EmbedRequest, EmbedsUser, VendorHttpRequest } from '../../vendors/define.ts'
import { vendorRequest, type VendorAnswer } from '../http/request.ts'
import type { CallOutcome } from '../metrics.ts'
import type { EmbedsLogger } from '../options.ts'
import { renderFailure } from '../render/render-error.ts'
import type { Runtime, VendorEntry } from '../runtime.ts'
import { endDirectiveSpan, startDirectiveSpan } from '../tracing.ts'

/** Who a page (or a lazy frame) is rendered for. */
export interface CallContext {
  user: EmbedsUser
  nonce: string
  acceptLanguage: string | undefined
}

/** A vendor call under way. `result` rejects when the vendor fails. */
export interface VendorCall {
  readonly result: Promise<Embed>
  /** `performance.now()` when it started, for the latency in the failure log line. */
  readonly started: number
  /** True once `abort()` was called: its failure is ours, not the vendor's. */
  readonly aborted: boolean
  abort(): void
}

/** What a call produces: the inline embed, or a lazy frame's whole document. */
export type CallKind = 'embed' | 'document'

/**
 * Starts `entry`'s flow for one directive under its own deadline. Its span
 * is a child of the active one (the page's) and lasts as long as the call;
 * the adapter's code runs inside it, so its cache lookups mark it.
 */
export function startVendorCall(
  runtime: Runtime,
  entry: VendorEntry,
  attributes: Readonly<Record<string, string>>,
  page: CallContext,
  kind: CallKind = 'embed',
): VendorCall {
  const controller = new AbortController()
  const signal = AbortSignal.any([AbortSignal.timeout(runtime.options.timeoutMs), controller.signal])
  const { definition } = entry
  const started = performance.now()
  const traced = startDirectiveSpan(runtime.tracing, definition, kind === 'document')
  const request: EmbedRequest<never, never> = {
    config: entry.config as never,
    resources: entry.resources as never,
    attributes,
    ...page,
    signal,
    http: (req: VendorHttpRequest): Promise<VendorAnswer> =>
      vendorRequest({
        vendor: definition.name,
        dispatcher: req.dispatcher ?? runtime.dispatcher,
        url: req.url,
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal,
        maxBytes: runtime.options.maxResponseBytes,
        trace: { tracing: runtime.tracing, parent: traced.context },
      }),
  }
  const result = context.with(traced.context, () =>
    guarded(runtime, entry, controller.signal, async () => {
      if (kind === 'document') {
        if (!definition.lazy) throw new Error(`internal: ${definition.name} serves no lazy document`)
        return { html: await definition.lazy.document(request) }
      }
      const html = await definition.embed(request)
      return typeof html === 'string' ? { html } : html
    }),
  )
  let aborted = false
  const ended = (outcome: CallOutcome, error?: unknown): void => {
    runtime.metrics.callDuration(definition.name, outcome, (performance.now() - started) / 1000)
    endDirectiveSpan(traced.span, outcome, error)
  }
  // Also handles the rejection, so a call nobody awaits (a prefetch left
  // unclaimed, a page that failed) never becomes an unhandled rejection.
  result.then(
    () => ended('ok'),
    (error: unknown) => ended(aborted ? 'aborted' : 'fallback', error),
  )
  return {
    result,
    started,
    get aborted() {
      return aborted
    },
    abort() {
      aborted = true
      controller.abort()
    },
  }
}

/**
 * Runs one vendor flow behind the vendor's circuit breaker and counts it: an
 * open breaker refuses at once (the fallback costs nothing), and only the
 * vendor's own failures — not our aborts, not refused input, not a 4xx about
 * one request — move the breaker towards open.
 */
async function guarded<T>(runtime: Runtime, entry: VendorEntry, ours: AbortSignal, flow: () => Promise<T>): Promise<T> {
  const { metrics } = runtime
  const { breaker, sharedBreaker } = entry
  const vendor = entry.definition.name
  // The fleet's word first, from this instance's view of it (no store call
  // unless a probe is due): open elsewhere means open here.
  const answer = sharedBreaker?.check() ?? 'local'
  const verdict = typeof answer === 'string' ? answer : await answer
  const probe = verdict === 'probe'
  // The fleet's probe goes ahead, and moves a local breaker past its cooldown to half-open.
  const localAllows = verdict !== 'refuse' && (!breaker || breaker.allow())
  if (!probe && !localAllows) {
    metrics.failure(vendor, 'ERR_VENDOR_CIRCUIT_OPEN')
    throw new VendorError(vendor, 'ERR_VENDOR_CIRCUIT_OPEN', `${vendor} circuit breaker is open`)
  }
  metrics.call(vendor)
  try {
    const result = await flow()
    breaker?.success()
    if (probe) await sharedBreaker?.closed()
    return result
  } catch (error) {
    // We stopped it (the page failed, or a prefetch was not needed): not the vendor's doing.
    if (ours.aborted) {
      if (probe) await sharedBreaker?.released()
      throw error
    }
    const code = error instanceof EmbedsError ? error.code : 'ERR_INTERNAL'
    metrics.failure(vendor, code)
    // Refused input never reached the vendor: it says nothing about its health.
    if (code === 'ERR_VENDOR_INPUT') {
      if (probe) await sharedBreaker?.released()
      throw error
    }
    if (answeredAboutTheRequest(error)) {
      breaker?.success()
      if (probe) await sharedBreaker?.closed()
      throw error
    }
    const before = breaker?.state
    breaker?.failure()
    // Opened here, or the fleet's probe failed: every instance refuses for a cooldown.
    if (probe || (before !== 'open' && breaker?.state === 'open')) await sharedBreaker?.open()
    throw error
  }
}

/**
 * A 4xx answer is the vendor, up and well, refusing one request (an unknown
 * widget, a user it does not know): counting it as the vendor being down would
 * let anyone who can choose a widget id switch it off for every user (issue 9).
 * 408 and 429 are the exceptions: the vendor timing out or asking us to back off.
 */
function answeredAboutTheRequest(error: unknown): boolean {
  const status = error instanceof VendorError && error.code === 'ERR_VENDOR_STATUS' ? error.status : undefined
  return status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429
}

/** Where a directive stands, for its failure log line. */
export interface FailureSite {
  directive: string
  loc: string
  fallback: string | undefined
}

/**
 * A call's embed, or — on any failure — the fallback and one log line. The
 * line is written once the fallback has rendered or failed, so it says what
 * the page got; the latency in it is the vendor's, without the fallback's
 * render. An aborted call (the page no longer needs it) is empty and not logged.
 */
export async function settle(
  runtime: Runtime,
  entry: VendorEntry,
  call: VendorCall,
  site: FailureSite,
  renderFallback: (name: string) => Promise<string>,
): Promise<Embed> {
  try {
    return await call.result
  } catch (error) {
    if (call.aborted) return { html: '' }
    const latencyMs = Math.round(performance.now() - call.started)
    const instead = await tryFallback(site.fallback, renderFallback)
    logVendorFailure(runtime.logger, { vendor: entry.definition.name, ...site, error, latencyMs, instead })
    return { html: instead.html }
  }
}

/**
 * A directive's fallback partial, or nothing. A broken fallback is logged and
 * renders nothing: the page may already be streaming, it must not fail.
 */
export async function fallback(
  logger: EmbedsLogger,
  name: string | undefined,
  render: (name: string) => Promise<string>,
): Promise<string> {
  const rendered = await tryFallback(name, render)
  if (rendered.failed) {
    const { what, at } = renderFailure(rendered.error)
    logger.warn({ fallback: name, cause: what, loc: at }, 'fallback failed')
  }
  return rendered.html
}

/** What a directive rendered in place of its embed. */
type FallbackOutcome = { html: string; failed: false } | { html: ''; failed: true; error: unknown }

async function tryFallback(
  name: string | undefined,
  render: (name: string) => Promise<string>,
): Promise<FallbackOutcome> {
  if (!name) return { html: '', failed: false }
  try {
    return { html: await render(name), failed: false }
  } catch (error) {
    return { html: '', failed: true, error }
  }
}

/**
 * The one log line of a vendor failure (SPEC): vendor, cause, status and
 * latency, and what the page got instead — never a secret, a token, an email
 * or the vendor's body. A fallback that failed too is told in this line
 * (its kind and template line, never its message), not in a second one.
 */
export function logVendorFailure(
  logger: EmbedsLogger,
  failure: FailureSite & { vendor: string; error: unknown; latencyMs: number; instead: FallbackOutcome },
): void {
  const { error, instead } = failure
  const fallbackFailure = instead.failed ? renderFailure(instead.error) : undefined
  logger.warn(
    {
      vendor: failure.vendor,
      directive: failure.directive,
      loc: failure.loc,
      cause: error instanceof EmbedsError ? error.code : 'ERR_INTERNAL',
      status: error instanceof VendorError ? error.status : undefined,
      latencyMs: failure.latencyMs,
      fallback: failure.fallback,
      fallbackCause: fallbackFailure?.what,
      fallbackLoc: fallbackFailure?.at,
    },
    !failure.fallback
      ? 'vendor call failed; rendered nothing (no fallback)'
      : fallbackFailure
        ? 'vendor call failed; rendered nothing (the fallback failed)'
        : 'vendor call failed; rendered the fallback',
  )
}
