/**
 * The answer to a render the app let fail: what a template author needs in
 * development, nothing a visitor could learn from in production.
 */
import type { Context } from 'koa'
import type { EmbedsLogger } from '../options.ts'
import { renderErrorLogLine } from '../render/render-error.ts'
import { errorOverlayPage } from './dev-errors.ts'
import { newNonce } from './headers.ts'

/** Development: where to report, and the templates version read before the render. */
interface DevReport {
  report(message: string): void
  version: number | undefined
}

/**
 * Answers a failed render with a 500. In development, the message and its
 * code frame in the terminal and in Vite's overlay, in a page that reloads
 * once the template is fixed; in production, one log line with the error's
 * kind and place — never its message, which can quote the page's data — and
 * a body with no detail.
 */
export function answerRenderFailure(ctx: Context, error: unknown, to: DevReport | EmbedsLogger): void {
  ctx.status = 500
  ctx.set('Cache-Control', 'no-store')
  if ('report' in to) {
    const { message, frame } = error as { message?: unknown; frame?: unknown }
    to.report([message, frame].filter((part) => typeof part === 'string' && part).join('\n'))
    const nonce = newNonce()
    ctx.set('Content-Security-Policy', `script-src 'nonce-${nonce}' 'strict-dynamic'; object-src 'none'`)
    ctx.type = 'html'
    ctx.body = errorOverlayPage(error, nonce, to.version)
    return
  }
  if (to.error) to.error({}, renderErrorLogLine(error))
  else to.warn({}, renderErrorLogLine(error))
  ctx.type = 'text/plain'
  ctx.body = 'Internal Server Error'
}
