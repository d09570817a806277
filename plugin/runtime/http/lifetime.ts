/**
 * A hard limit on how long one upstream request may live, headers and body
 * together. undici's `bodyTimeout` only limits the gap between two chunks, so
 * a vendor trickling one byte every 200 ms would never trip it; and a widget
 * page fetch carries on after its render gave up (see `detach.ts`), so no
 * render deadline bounds it either. Without this, such a fetch holds its
 * connection — and a graceful shutdown — for as long as the vendor likes.
 */
import { errors, type Dispatcher } from 'undici'
import type { IncomingHttpHeaders } from 'undici/types/header.js'
import { ForwardingHandler } from './forwarding-handler.ts'

/** Aborts each request still unfinished `ms` after it started. */
export function lifetimeLimit(ms: number): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => dispatch(opts, new LifetimeHandler(handler, ms))
}

class LifetimeHandler extends ForwardingHandler {
  private timer: NodeJS.Timeout | undefined

  constructor(
    inner: Dispatcher.DispatchHandler,
    private readonly ms: number,
  ) {
    super(inner)
  }

  override onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.timer = setTimeout(() => {
      controller.abort(new errors.RequestAbortedError(`vendor answer not complete within ${this.ms} ms`))
    }, this.ms)
    // Never the reason the process stays up.
    this.timer.unref()
    super.onRequestStart(controller, context)
  }

  override onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    clearTimeout(this.timer)
    super.onResponseEnd(controller, trailers)
  }

  override onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    clearTimeout(this.timer)
    super.onResponseError(controller, error)
  }
}
