/**
 * Spans (issue 12), through `@opentelemetry/api`: nothing is recorded unless
 * the app installs an OpenTelemetry SDK, and then the runtime's spans join
 * the app's traces. One span per page render, one per directive's vendor work
 * (from the moment its call starts, which may be before the template reaches
 * it), one per vendor HTTP request:
 *
 *   eta_embeds.page home
 *   ├─ eta_embeds.directive widget   (vendor returning-proxy, outcome ok)
 *   │  ├─ POST                       (server.address, http.response.status_code)
 *   │  └─ GET
 *   └─ eta_embeds.directive caramelo
 *      └─ POST
 *
 * Attributes carry vendor and directive names, flows, outcomes, cache
 * results, HTTP methods, statuses, server addresses and error codes: never a
 * user (email, id, name), a token, a secret, a URL's path or query, a vendor
 * body or an error message (messages may quote a template's data).
 */
import { createRequire } from 'node:module'
import {
  context,
  createContextKey,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api'
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions'
import { EmbedsError } from '../errors.ts'
import type { AnyVendorDefinition } from '../vendors/define.ts'
import type { CallOutcome } from './metrics.ts'

const PACKAGE = 'vite-plugin-eta-embeds'
const version = packageVersion()

export interface TracingOptions {
  /**
   * Send trace context headers (`traceparent`, `tracestate`: what the app's
   * propagator writes) with vendor requests, so a vendor that traces too can
   * join its spans to the app's. Off, a vendor learns nothing of the app's
   * traces: its requests carry no trace header, even when an undici
   * instrumentation would add one. Baggage is never sent.
   * @default false
   */
  propagateToVendors?: boolean
}

/** Our attributes, under one prefix; OpenTelemetry's semantic conventions name the rest. */
export const ATTR = {
  template: 'eta_embeds.template',
  vendor: 'eta_embeds.vendor',
  directive: 'eta_embeds.directive',
  flow: 'eta_embeds.flow',
  outcome: 'eta_embeds.outcome',
  /** Set on a lazy frame's directive span (served by the lazy route, not in a page). */
  lazy: 'eta_embeds.lazy',
  /** `eta_embeds.cache.<kind>`: `hit` or `miss`, for each cache a directive looked in. */
  cachePrefix: 'eta_embeds.cache.',
} as const

/**
 * Read by the package's own name (its `exports` list `./package.json`): the
 * same from the sources and from `dist/`, whatever the folder depth. A
 * bundled server may have no package to read: the tracer then goes without
 * a version rather than the server without a start.
 */
function packageVersion(): string | undefined {
  try {
    return (createRequire(import.meta.url)(`${PACKAGE}/package.json`) as { version: string }).version
  } catch {
    return undefined
  }
}

/** What the runtime traces with. */
export interface Tracing {
  tracer: Tracer
  propagateToVendors: boolean
}

/** The package's tracer, named after it with its version: a no-op until the app registers an SDK. */
export function createTracing(options: Required<TracingOptions>): Tracing {
  return { tracer: trace.getTracer(PACKAGE, version), propagateToVendors: options.propagateToVendors }
}

/** The directive span of the vendor work running in a context: where cache lookups are marked. */
const DIRECTIVE_SPAN = createContextKey('vite-plugin-eta-embeds directive span')

/** A span and the context to run its children in. */
export interface Traced {
  span: Span
  context: Context
}

/** A page render's span, a child of the active one (the app's server span, when it traces its requests). */
export function startPageSpan(tracing: Tracing, template: string): Traced {
  const parent = context.active()
  const span = tracing.tracer.startSpan(
    `eta_embeds.page ${template}`,
    { attributes: { [ATTR.template]: template } },
    parent,
  )
  return { span, context: trace.setSpan(parent, span) }
}

/**
 * The page's chunks, ending the page span when the last one is produced,
 * when they fail, or when the consumer stops early (the client went away) —
 * even before it read the first.
 */
export function endWithChunks(span: Span, chunks: AsyncGenerator<string>): AsyncGenerator<string> {
  let open = true
  const end = (outcome: 'ok' | 'aborted', error?: unknown): void => {
    if (!open) return
    open = false
    span.setAttribute(ATTR.outcome, outcome)
    if (error !== undefined) fail(span, error)
    span.end()
  }
  const wrapped: AsyncGenerator<string> = {
    async next() {
      try {
        const result = await chunks.next()
        if (result.done) end('ok')
        return result
      } catch (error) {
        end('aborted', error)
        throw error
      }
    },
    async return(value) {
      end('aborted')
      return chunks.return(value)
    },
    async throw(error: unknown) {
      end('aborted', error)
      return chunks.throw(error)
    },
    [Symbol.asyncIterator]() {
      return wrapped
    },
  }
  return wrapped
}

/** The span of one directive's vendor work, a child of the active one (the page's). */
export function startDirectiveSpan(tracing: Tracing, definition: AnyVendorDefinition, lazy: boolean): Traced {
  const parent = context.active()
  const span = tracing.tracer.startSpan(
    `eta_embeds.directive ${definition.directive}`,
    {
      attributes: {
        [ATTR.vendor]: definition.name,
        [ATTR.directive]: definition.directive,
        ...(definition.flow ? { [ATTR.flow]: definition.flow } : {}),
        ...(lazy ? { [ATTR.lazy]: true } : {}),
      },
    },
    parent,
  )
  return { span, context: trace.setSpan(parent, span).setValue(DIRECTIVE_SPAN, span) }
}

/** Ends a directive span: `fallback` is a failure, with the error's code. */
export function endDirectiveSpan(span: Span, outcome: CallOutcome, error?: unknown): void {
  span.setAttribute(ATTR.outcome, outcome)
  if (outcome === 'fallback') fail(span, error)
  span.end()
}

/** Marks the running directive's span with the result of a cache lookup (`eta_embeds.cache.widget_page: hit`). */
export function markCache(kind: string, result: 'hit' | 'miss'): void {
  const span = context.active().getValue(DIRECTIVE_SPAN) as Span | undefined
  span?.setAttribute(`${ATTR.cachePrefix}${kind}`, result)
}

/** Status ERROR with the error's code, and nothing of its message. */
export function fail(span: Span, error: unknown): void {
  const code = errorCode(error)
  span.setAttribute(ATTR_ERROR_TYPE, code)
  span.setStatus({ code: SpanStatusCode.ERROR, message: code })
}

/** An error's stable code; `ERR_INTERNAL` for anything not ours. */
export function errorCode(error: unknown): string {
  return error instanceof EmbedsError ? error.code : 'ERR_INTERNAL'
}
