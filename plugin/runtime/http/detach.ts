/**
 * Lets each caller of a shared (deduplicated) request give up on its own.
 *
 * undici's `deduplicate` interceptor lets the first caller's handler drive the
 * shared request: when that caller aborts (its deadline passed, or its page
 * failed), every caller that joined it fails with the first caller's abort
 * reason, and the answer never reaches a cache below. With a vendor that
 * answers just after the deadline, no render would ever get the page.
 *
 * Composed outside `deduplicate`, this interceptor answers an aborting caller
 * with its abort reason at once and detaches it; the request goes on for the
 * others and for the cache, bounded by the base dispatcher's own timeouts.
 * Only an answer that grows past `maxBytes` after its caller left is aborted:
 * nobody may use or store one that large.
 */
import { errors, type Dispatcher } from 'undici'
import type { IncomingHttpHeaders } from 'undici/types/header.js'

/**
 * An interceptor that gives every caller a controller of its own: aborting it
 * detaches that caller instead of aborting the request.
 * @param maxBytes past this many body bytes with its caller gone, the request is aborted after all
 */
export function detachOnAbort(maxBytes: number): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => dispatch(opts, new DetachedHandler(handler, maxBytes))
}

/** Sits between one caller and the shared request. */
class DetachedHandler implements Dispatcher.DispatchHandler {
  upstream: Dispatcher.DispatchController | undefined
  leftWith: Error | undefined
  callerPaused = false
  private finished = false
  private bytes = 0
  private readonly controller = new CallerController(this)

  constructor(
    private readonly caller: Dispatcher.DispatchHandler,
    private readonly maxBytes: number,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.upstream = controller
    if (this.callerPaused) controller.pause()
    if (!this.leftWith) this.caller.onRequestStart?.(this.controller, context)
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    if (!this.leftWith) this.caller.onResponseStart?.(this.controller, statusCode, headers, statusMessage)
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.bytes += chunk.length
    if (!this.leftWith) {
      this.caller.onResponseData?.(this.controller, chunk)
    } else if (this.bytes > this.maxBytes) {
      controller.abort(this.leftWith)
    }
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    this.finished = true
    if (!this.leftWith) this.caller.onResponseEnd?.(this.controller, trailers)
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.finished = true
    if (!this.leftWith) this.caller.onResponseError?.(this.controller, error)
  }

  /** The caller aborted: answer it now, and stop holding the shared request back. */
  leave(reason: Error | undefined): void {
    if (this.leftWith || this.finished) return
    this.leftWith = reason ?? new errors.RequestAbortedError()
    if (this.callerPaused) {
      this.callerPaused = false
      this.upstream?.resume()
    }
    this.caller.onResponseError?.(this.controller, this.leftWith)
  }
}

/** What the caller holds: aborting it detaches the caller, pausing it pauses the request while it stays. */
class CallerController implements Dispatcher.DispatchController {
  constructor(private readonly owner: DetachedHandler) {}

  get aborted(): boolean {
    return this.owner.leftWith !== undefined
  }

  get paused(): boolean {
    return this.owner.callerPaused
  }

  get reason(): Error | null {
    return this.owner.leftWith ?? null
  }

  abort(reason: Error): void {
    this.owner.leave(reason)
  }

  pause(): void {
    if (this.owner.leftWith) return
    this.owner.callerPaused = true
    this.owner.upstream?.pause()
  }

  resume(): void {
    if (this.owner.leftWith) return
    this.owner.callerPaused = false
    this.owner.upstream?.resume()
  }
}
