/**
 * The contract between a compiled template module and the runtime, written
 * once: the compiler emits modules of this shape (`compiler/codegen.ts`) and
 * the runtime reads them (`runtime/render/render.ts`). Neither side spells a
 * name of it as a string of its own.
 */

/** The module the server imports to get every compiled template by name. */
export const TEMPLATES_ID = 'virtual:eta-embeds/templates'

/** The Eta option through which a compiled template reaches the page's {@link DirectiveHost}. */
export const HOST_OPTION = '__embeds'

/** What the runtime learns about each directive of a compiled template. */
export interface DirectiveInfo {
  /** The directive's name (`widget`); an adapter declares it. */
  name: string
  /** Literal attribute values, already validated. */
  attributes: Record<string, string>
  /** `file:line:column` of the directive, for render-time errors. */
  loc: string
}

/** What a compiled template calls where a directive stands. */
export interface DirectiveHost {
  /**
   * Starts resolving the directive and returns a placeholder at once.
   * `dynamic` holds the `{expression}` attribute values, `it` the template's data (for its fallback).
   */
  embed(info: DirectiveInfo, dynamic: Record<string, unknown>, it: object): string
}

/** A compiled template module's `meta` export. */
export interface TemplateMeta {
  file: string
  async: boolean
  directives: string[]
  /** Indexes into `directives` of those that may start before the template reaches them. */
  prefetch?: number[]
  /** Templates included (or used as layout) on every render. */
  includes?: string[]
}

/** A compiled template module, as the Vite plugin emits it. */
export interface TemplateModule {
  default: (this: unknown, it: object, options: object) => string | Promise<string>
  meta: TemplateMeta
  directives?: DirectiveInfo[]
  /** Templates this one names with a literal name, by canonical name (set when compiled by the Vite plugin). */
  dependencies?: Record<string, TemplateModule>
}

/** Compiled templates by name (`home`, `partials/nav`), as the {@link TEMPLATES_ID} module exports them. */
export type TemplateMap = Record<string, TemplateModule>
