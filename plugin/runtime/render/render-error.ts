/**
 * A failed render, told the way a template author needs it (issue 13): the
 * template line the error happened at, a code frame of it, and the
 * templates that included or laid out that one — in development; in
 * production, one log line that says what and where, and nothing the page's
 * data could have put in a message.
 */
import { EmbedsError, RenderError } from '../../errors.ts'
import { siteFrame, templateSites, type TemplateSite } from './locate.ts'

/**
 * `error`, thrown while rendering page `page`, as a located `RenderError`.
 * `files` are the compiled templates' file names (`meta.file`). The
 * template's own code failing becomes `ERR_TEMPLATE_RUNTIME`, with the
 * original as `cause`; the runtime's own render errors keep their code.
 */
export function locatedRenderError(error: unknown, files: readonly string[], page: string): RenderError {
  const [at, ...outer] = templateSites(error, files)
  const location = at && {
    loc: { file: at.file, line: at.line, column: at.column },
    frame: siteFrame(at),
    via: outer.map(siteName),
  }
  const where = at ? ` at ${siteName(at)}${viaText(location?.via ?? [])}` : ''
  if (error instanceof RenderError) {
    // Our own messages name their directive's place already: add it only when missing.
    const message = at && !error.message.includes(`${at.file}:`) ? `${error.message}${where}` : error.message
    return withStack(new RenderError(error.code, message, { cause: error.cause, location }), error)
  }
  const what = error instanceof Error ? `${error.name}: ${error.message}` : `${typeof error} thrown: ${shown(error)}`
  const unlocated =
    error instanceof Error
      ? '(no source map locates it)'
      : '(what it threw has no stack: throw an Error to get its line)'
  const message = `${what}${where || ` in template '${page}' ${unlocated}`}`
  return withStack(new RenderError('ERR_TEMPLATE_RUNTIME', message, { cause: error, location }), error)
}

/**
 * One line for a production log: what failed — the error's kind, or the
 * runtime's code — and where in the templates. Never the message: a
 * template's error can quote the page's data (`Cannot read properties of
 * undefined (reading '<a key from the data>')`, `"alice@…" is not valid
 * JSON`), and the page's data can hold anything, a token included.
 */
export function renderErrorLogLine(error: unknown): string {
  const { what, at } = renderFailure(error)
  if (at) return `render failed: ${what} at ${at}`
  const byTemplate = error instanceof RenderError && error.code === 'ERR_TEMPLATE_RUNTIME'
  return `render failed: ${what}${byTemplate ? ' at an unknown template line' : ''}`
}

/**
 * A failed render as log fields, in `renderErrorLogLine`'s terms and for the
 * same reason never the message: `what` is the error's kind or the runtime's
 * code, `at` its place when located (`file:line:column`, then the templates
 * that led there).
 */
export function renderFailure(error: unknown): { what: string; at: string | undefined } {
  if (!(error instanceof RenderError)) {
    return { what: error instanceof EmbedsError ? error.code : kindOf(error), at: undefined }
  }
  const what = error.code === 'ERR_TEMPLATE_RUNTIME' ? kindOf(error.cause) : error.code
  if (!error.loc) return { what, at: undefined }
  const { file, line, column } = error.loc
  return { what, at: `${file}:${line}:${column}${viaText(error.via)}` }
}

function siteName(site: TemplateSite): string {
  return `${site.file}:${site.line}:${site.column}`
}

function viaText(via: readonly string[]): string {
  return via.length ? ` (via ${via.join(', ')})` : ''
}

/** A thrown value that is not an Error, as text (an object without a prototype has no toString). */
function shown(value: unknown): string {
  try {
    return String(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}

/** An error's kind: its class name, never its message. */
function kindOf(error: unknown): string {
  return error instanceof Error ? error.name : `a thrown ${typeof error}`
}

/** The original's stack frames under the new message: in dev they are the author's lines already. */
function withStack(located: RenderError, original: unknown): RenderError {
  const stack = original instanceof Error && typeof original.stack === 'string' ? original.stack : ''
  const frames = stack
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .join('\n')
  located.stack = `${located.name}: ${located.message}${frames ? `\n${frames}` : ''}`
  return located
}
