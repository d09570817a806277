/**
 * Starting one directive's vendor work: its configuration checked, its own
 * deadline, and a handle to abort it when the page no longer needs it.
 */
import type { DirectiveName } from '../directives.ts'
import { EmbedsError, VendorError } from '../errors.ts'
import type { EmbedsLogger, ResolvedEmbedsOptions } from './options.ts'
import type { VendorName } from './state.ts'
import type { EmbedsUser, ResolveContext } from './user.ts'
import { resolveChatbot } from './vendors/caramelo.ts'
import { resolveWidget } from './vendors/returning.ts'

/** A vendor call under way. `html` rejects with a `VendorError` when the vendor fails. */
export interface VendorCall {
  readonly html: Promise<string>
  /** `performance.now()` when it started, for the latency in the failure log line. */
  readonly started: number
  /** True once `abort()` was called: its failure is ours, not the vendor's. */
  readonly aborted: boolean
  abort(): void
}

/**
 * What is missing for `name` to be resolved at all, or `undefined`. A
 * configuration mistake, not a vendor failure: the page fails loudly.
 */
export function checkConfigured(
  options: ResolvedEmbedsOptions,
  name: DirectiveName,
  attrs: Record<string, string>,
): string | undefined {
  if (name === 'widget') {
    if (!options.returning) return '<<widget>> is used but Returning.AI is not configured'
    if (!attrs['id'] && !options.returning.widgetId) return "<<widget>> has no 'id' and WIDGET_ID is not set"
    return undefined
  }
  if (!options.caramelo) return '<<caramelo>> is used but Caramelo AI is not configured'
  if (!attrs['project'] && !options.caramelo.projectId) {
    return "<<caramelo>> has no 'project' and CARAMELO_PROJECT_ID is not set"
  }
  return undefined
}

/** Starts the vendor flow of one configured directive for `page.user`, under its own deadline. */
export function startVendorCall(
  options: ResolvedEmbedsOptions,
  name: DirectiveName,
  attrs: Record<string, string>,
  page: Omit<ResolveContext, 'signal'> & { user: EmbedsUser },
): VendorCall {
  const controller = new AbortController()
  const signal = AbortSignal.any([AbortSignal.timeout(options.timeoutMs), controller.signal])
  const ctx: ResolveContext = { ...page, signal }
  const vendor = vendorOf(name)
  const html = guarded(options, vendor, controller.signal, () =>
    name === 'widget'
      ? resolveWidget(required(options.returning), options, attrs, ctx)
      : resolveChatbot(required(options.caramelo), options, attrs, ctx),
  )
  // Handled here so a call nobody awaits (a prefetch left unclaimed, a page
  // that failed) never becomes an unhandled rejection.
  html.catch(() => undefined)
  let aborted = false
  return {
    html,
    started: performance.now(),
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
export async function guarded(
  options: ResolvedEmbedsOptions,
  vendor: VendorName,
  ours: AbortSignal | undefined,
  flow: () => Promise<string>,
): Promise<string> {
  const { metrics, breakers } = options.state
  const breaker = breakers[vendor]
  if (breaker && !breaker.allow()) {
    metrics.failure(vendor, 'ERR_VENDOR_CIRCUIT_OPEN')
    throw new VendorError(vendor, 'ERR_VENDOR_CIRCUIT_OPEN', `${vendor} circuit breaker is open`)
  }
  metrics.call(vendor)
  try {
    const html = await flow()
    breaker?.success()
    return html
  } catch (error) {
    // We stopped it (the page failed, or a prefetch was not needed): not the vendor's doing.
    if (ours?.aborted) throw error
    const code = error instanceof EmbedsError ? error.code : 'ERR_INTERNAL'
    metrics.failure(vendor, code)
    // Refused input never reached the vendor: it says nothing about its health.
    if (code === 'ERR_VENDOR_INPUT') throw error
    if (answeredAboutTheRequest(error)) breaker?.success()
    else breaker?.failure()
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

/**
 * The one log line of a vendor failure (SPEC): vendor, cause, status and
 * latency — never a secret, a token, an email or the vendor's body.
 */
export function logVendorFailure(
  logger: EmbedsLogger,
  failure: { vendor: VendorName; directive: DirectiveName; loc: string; error: unknown; started: number },
): void {
  const { error } = failure
  logger.warn(
    {
      vendor: (error as { vendor?: string }).vendor ?? failure.vendor,
      directive: failure.directive,
      loc: failure.loc,
      cause: error instanceof EmbedsError ? error.code : 'ERR_INTERNAL',
      status: (error as { status?: number }).status,
      latencyMs: Math.round(performance.now() - failure.started),
    },
    'vendor call failed; rendered the fallback',
  )
}

/** The vendor behind a directive. */
export function vendorOf(name: DirectiveName): VendorName {
  return name === 'widget' ? 'returning' : 'caramelo'
}

function required<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('internal: vendor call started without checkConfigured()')
  return value
}
