/**
 * Development only: a page that shows a render or compile error in Vite's
 * error overlay, the way Vite shows client-side errors. Template errors
 * happen on the server, where the overlay cannot see them by itself.
 */
import { escapeHtml, jsonForScript } from './encode.ts'

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
 */
export function errorOverlayPage(error: unknown, nonce: string): string {
  const err = overlayError(error)
  const n = escapeHtml(nonce)
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Render error</title>
<script type="module" nonce="${n}" src="/@vite/client"></script>
<script type="module" nonce="${n}">
import { ErrorOverlay } from '/@vite/client'
document.body.appendChild(new ErrorOverlay(${jsonForScript(err)}))
</script>
</head>
<body><noscript><pre>${escapeHtml(err.message)}</pre></noscript></body>
</html>
`
}
