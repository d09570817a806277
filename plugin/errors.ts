/**
 * One error family for the whole package. Every error carries a stable `code`
 * so callers (the Vite overlay, the Koa runtime, tests) branch on the code,
 * never on the message text.
 */

/** Codes raised while compiling a template (build time or dev transform). */
export type CompileErrorCode =
  | 'ERR_DIRECTIVE_UNKNOWN'
  | 'ERR_DIRECTIVE_UNCLOSED'
  | 'ERR_DIRECTIVE_DUPLICATE'
  | 'ERR_ATTRIBUTE_UNKNOWN'
  | 'ERR_ATTRIBUTE_DUPLICATE'
  | 'ERR_ATTRIBUTE_VALUE'
  | 'ERR_ETA_SYNTAX'
  | 'ERR_TEMPLATE_NOT_FOUND'

/** Codes raised while rendering a page (request time). */
export type RenderErrorCode =
  | 'ERR_ATTRIBUTE_VALUE'
  | 'ERR_DIRECTIVE_DUPLICATE'
  | 'ERR_CONFIG'
  | 'ERR_TEMPLATE_NOT_FOUND'
  | 'ERR_TEMPLATE_ASYNC'
  /** The template's own code threw (`<%= it.user.profile.city %>` without a profile); `cause` is what it threw. */
  | 'ERR_TEMPLATE_RUNTIME'

/** Codes for a vendor call that did not produce a usable answer. */
export type VendorErrorCode =
  | 'ERR_VENDOR_TIMEOUT'
  | 'ERR_VENDOR_NETWORK'
  | 'ERR_VENDOR_STATUS'
  | 'ERR_VENDOR_BODY'
  | 'ERR_VENDOR_PLACEHOLDER'
  | 'ERR_VENDOR_INPUT'
  | 'ERR_VENDOR_CIRCUIT_OPEN'

/** A position in a template source file. Lines and columns are 1-based. */
export interface SourceLocation {
  file: string
  line: number
  column: number
}

/** Base class: a stable `code`, the original `cause` kept. */
export class EmbedsError extends Error {
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** A template that cannot be compiled. `loc` points at the offending source. */
export class CompileError extends EmbedsError {
  declare readonly code: CompileErrorCode
  readonly loc: SourceLocation
  /** A few lines of source around `loc`, with a caret under the column. */
  readonly frame: string
  constructor(
    code: CompileErrorCode,
    message: string,
    loc: SourceLocation,
    frame: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options)
    this.loc = loc
    this.frame = frame
  }
}

/** Where a render error happened in the author's templates, when a source map says (issue 13). */
export interface RenderErrorLocation {
  /** The innermost template line: the partial or layout the error is in, when it is in one. */
  loc: SourceLocation
  /** A few lines of that template around `loc`, with a caret under the column. */
  frame?: string
  /** The templates that led there, innermost first, each as `file:line:column` of its include or layout call. */
  via: string[]
}

/** A page that cannot be rendered because of the template or the configuration. */
export class RenderError extends EmbedsError {
  declare readonly code: RenderErrorCode
  /** The template line it happened at, when known (`file` relative to the project root, as in messages). */
  readonly loc: SourceLocation | undefined
  readonly frame: string | undefined
  /** The templates that led to `loc`, innermost first (`templates/home.eta:19:3`). */
  readonly via: readonly string[]
  constructor(
    code: RenderErrorCode,
    message: string,
    options?: { cause?: unknown; location?: RenderErrorLocation | undefined },
  ) {
    super(code, message, options)
    this.loc = options?.location?.loc
    this.frame = options?.location?.frame
    this.via = options?.location?.via ?? []
  }
}

/**
 * A vendor call that failed. The message names the vendor and the cause only:
 * never a secret, a token, an email or the vendor's own body (STYLE rule 5).
 */
export class VendorError extends EmbedsError {
  declare readonly code: VendorErrorCode
  readonly vendor: string
  readonly status: number | undefined
  constructor(vendor: string, code: VendorErrorCode, message: string, options?: { cause?: unknown; status?: number }) {
    super(code, message, options)
    this.vendor = vendor
    this.status = options?.status
  }
}
