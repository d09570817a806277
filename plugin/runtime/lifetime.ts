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

/** Aborts each request still unfinished `ms` after it started. */
export function lifetimeLimit(ms: number): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => dispatch(opts, new LifetimeHandler(handler, ms))
}

class LifetimeHandler implements Dispatcher.DispatchHandler {
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly inner: Dispatcher.DispatchHandler,
    private readonly ms: number,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.timer = setTimeout(() => {
      controller.abort(new errors.RequestAbortedError(`vendor answer not complete within ${this.ms} ms`))
    }, this.ms)
    // Never the reason the process stays up.
    this.timer.unref()
    this.inner.onRequestStart?.(controller, context)
  }

  onRequestUpgrade(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    socket: import('node:stream').Duplex,
  ): void {
    this.inner.onRequestUpgrade?.(controller, statusCode, headers, socket)
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    this.inner.onResponseStart?.(controller, statusCode, headers, statusMessage)
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.inner.onResponseData?.(controller, chunk)
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    clearTimeout(this.timer)
    this.inner.onResponseEnd?.(controller, trailers)
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    clearTimeout(this.timer)
    this.inner.onResponseError?.(controller, error)
  }
}
