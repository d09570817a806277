/**
 * Encoders for the contexts vendor values land in. Each one is named after
 * the place its output may go, so a call site reads as what it protects.
 */

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/** Escapes text for HTML content or a double-quoted attribute value (`srcdoc="…"` included). */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c)
}

function unicodeEscape(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
}

/**
 * A JavaScript string literal (quotes included) that is safe inside an inline
 * `<script>`: JSON escaping plus `<`, `>`, `&`, `'` and the line separators
 * U+2028/U+2029, so the value can neither end the script element nor break
 * the surrounding statement.
 */
export function jsStringLiteral(value: string): string {
  return JSON.stringify(value).replace(/[<>&'\u2028\u2029]/g, unicodeEscape)
}

/** JSON for an inline `<script>`, encoded like `jsStringLiteral`. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&'\u2028\u2029]/g, unicodeEscape)
}
