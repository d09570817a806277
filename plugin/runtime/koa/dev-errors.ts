/**
 * Development only: a page that shows a render or compile error in Vite's
 * error overlay, the way Vite shows client-side errors. Template errors
 * happen on the server, where the overlay cannot see them by itself.
 */
import { ERROR_PAGE_CHECK, type ErrorPageCheck } from '../../dev-protocol.ts'
import { escapeHtml, jsonForScript } from '../encode.ts'

interface OverlayError {
  message: string
  stack: string
  id?: string
  frame?: string
  plugin?: string
  loc?: { file?: string; line: number; column: number }
}

// eslint-disable-next-line no-control-regex -- ANSI colour codes are control sequences
const ANSI = /\u001b\[[0-9;]*m/g

/** The fields Vite's `ErrorOverlay` reads, taken from whatever was thrown. */
export function overlayError(error: unknown): OverlayError {
  const e = (error ?? {}) as Partial<OverlayError> & { message?: unknown; stack?: unknown }
  const message = typeof e.message === 'string' ? e.message : String(error)
  return {
    message: message.replace(ANSI, ''),
    stack: typeof e.stack === 'string' ? e.stack.replace(ANSI, '') : '',
    ...(typeof e.id === 'string' ? { id: e.id } : {}),
    ...(typeof e.frame === 'string' ? { frame: e.frame.replace(ANSI, '') } : {}),
    ...(typeof e.plugin === 'string' ? { plugin: e.plugin } : {}),
    ...(e.loc && typeof e.loc.line === 'number' ? { loc: e.loc } : {}),
  }
}

/**
 * An HTML page that opens Vite's overlay with `error` and stays connected to
 * Vite's HMR, so fixing the template reloads the page and clears the overlay.
 * `templatesVersion` is the plugin's templates version read before the
 * failed render (`viteTemplatesVersion`): once its HMR socket is open, the
 * page asks the plugin to reload it if a template changed since, because
 * a fix saved while the page was still loading sent its reload before the
 * page could hear it.
 */
export function errorOverlayPage(error: unknown, nonce: string, templatesVersion?: number): string {
  const err = overlayError(error)
  const n = escapeHtml(nonce)
  const check: ErrorPageCheck | undefined = templatesVersion === undefined ? undefined : { templatesVersion }
  // Vite's client queues what a hot context sends until its socket is open.
  const askIfStale = check
    ? `createHotContext('/@eta-embeds/error-page').send(${jsonForScript(ERROR_PAGE_CHECK)}, ${jsonForScript(check)})\n`
    : ''
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Render error</title>
<script type="module" nonce="${n}" src="/@vite/client"></script>
<script type="module" nonce="${n}">
import { ErrorOverlay, createHotContext } from '/@vite/client'
document.body.appendChild(new ErrorOverlay(${jsonForScript(err)}))
${askIfStale}</script>
</head>
<body><noscript><pre>${escapeHtml(err.message)}</pre></noscript></body>
</html>
`
}
