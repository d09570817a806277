/**
 * Renders a compiled page: runs the template, lets every directive start its
 * vendor calls the moment it is reached, then waits for all of them together
 * and puts each one's HTML where its placeholder stands.
 */
import { randomBytes } from 'node:crypto'
import { Eta } from 'eta/core'
import type { DirectiveInfo } from '../compiler/codegen.ts'
import { checkAttribute, type DirectiveName } from '../directives.ts'
import { EmbedsError, RenderError } from '../errors.ts'
import type { ResolvedEmbedsOptions } from './options.ts'
import type { EmbedsUser, ResolveContext } from './user.ts'
import { resolveChatbot } from './vendors/caramelo.ts'
import { resolveWidget } from './vendors/returning.ts'

/** A compiled template module, as the Vite plugin emits it. */
export interface TemplateModule {
  default: (this: unknown, it: object, options: object) => string | Promise<string>
  meta: { file: string; async: boolean; directives: DirectiveName[] }
  /** Templates this one names with a literal name, by canonical name (set when compiled by the Vite plugin). */
  dependencies?: Record<string, TemplateModule>
}

/** Compiled templates by name (`home`, `partials/nav`), as `virtual:eta-embeds/templates` exports them. */
export type TemplateMap = Record<string, TemplateModule>

/** Who a page is for and how it is protected. */
export interface PageContext {
  /** The verified session user; `undefined` renders every directive's fallback and calls no vendor. */
  user: EmbedsUser | undefined
  nonce: string
  acceptLanguage: string | undefined
}

type EtaFn = Parameters<Eta['loadTemplate']>[1]
const engines = new WeakMap<TemplateMap, Eta>()

/**
 * One Eta instance per set of compiled templates. The templates are plain
 * functions registered by name, so Eta never compiles anything at request time.
 */
function engineFor(templates: TemplateMap): Eta {
  let eta = engines.get(templates)
  if (eta) return eta
  eta = new Eta()
  for (const [name, mod] of allTemplates(templates)) {
    const fn = mod.default as unknown as EtaFn
    eta.templatesAsync.define(name, fn as never)
    // A sync include() of an async template would print "[object Promise]": say what to do instead.
    eta.templatesSync.define(name, (mod.meta.async ? asyncInSyncInclude(name) : fn) as never)
  }
  engines.set(templates, eta)
  return eta
}

/** The map's templates plus every template they import, by canonical name. */
function allTemplates(templates: TemplateMap): Map<string, TemplateModule> {
  const found = new Map<string, TemplateModule>()
  const visit = (name: string, mod: TemplateModule): void => {
    if (found.has(name)) return
    found.set(name, mod)
    for (const [dep, depMod] of Object.entries(mod.dependencies ?? {})) visit(dep, depMod)
  }
  for (const [name, mod] of Object.entries(templates)) visit(name, mod)
  return found
}

function asyncInSyncInclude(name: string): () => never {
  return () => {
    throw new RenderError(
      'ERR_TEMPLATE_ASYNC',
      `template '${name}' uses await, so it must be rendered with await includeAsync('${name}') from an async template`,
    )
  }
}

/** Renders template `name` with `data` for one request. */
export async function renderPage(
  options: ResolvedEmbedsOptions,
  templates: TemplateMap,
  name: string,
  data: object,
  page: PageContext,
): Promise<string> {
  if (!Object.hasOwn(templates, name)) {
    throw new RenderError(
      'ERR_TEMPLATE_NOT_FOUND',
      `no template '${name}' (known: ${Object.keys(templates).join(', ')})`,
    )
  }
  const eta = engineFor(templates)
  const scope = new RenderScope(options, eta, page)
  try {
    const html = await eta.renderAsync(name, data, { __embeds: scope } as never)
    return await scope.settle(html)
  } catch (error) {
    // The page failed: vendor calls still running have no page to go to.
    scope.cancel()
    throw error
  }
}

// A placeholder: NUL, the render's random id, the directive's index, NUL.
// eslint-disable-next-line no-control-regex -- NUL delimits placeholders, by design
const PLACEHOLDER = /\u0000([0-9a-f]{24}):(\d+)\u0000/g

class RenderScope {
  // Created on the first directive only: most renders of most pages (login,
  // errors, anonymous visitors) need neither.
  private id: string | undefined
  private cancelled: AbortController | undefined
  private readonly pending: Promise<string>[] = []
  private chatbots = 0

  constructor(
    private readonly options: ResolvedEmbedsOptions,
    private readonly eta: Eta,
    private readonly page: PageContext,
  ) {}

  /** Called by compiled templates where a directive stands; returns its placeholder at once. */
  embed(info: DirectiveInfo, dynamic: Record<string, unknown>, it: object): string {
    if (info.name === 'caramelo' && ++this.chatbots > 1) {
      throw new RenderError(
        'ERR_DIRECTIVE_DUPLICATE',
        `second <<caramelo>> on one page at ${info.loc} (a page can hold at most one chatbot)`,
      )
    }
    const attrs = { ...info.attributes, ...validated(info, dynamic) }
    const resolving = this.resolve(info, attrs, it)
    // Marked handled now: if the template throws before settle(), a later
    // rejection must not become an unhandled rejection that kills the process.
    resolving.catch(() => undefined)
    const index = this.pending.push(resolving) - 1
    this.id ??= randomBytes(12).toString('hex')
    return `\u0000${this.id}:${index}\u0000`
  }

  async settle(html: string): Promise<string> {
    if (!this.pending.length) return html
    const parts = await Promise.all(this.pending)
    // Only this render's placeholders are replaced: the id is unguessable, so
    // text from the template's data can never pose as one.
    return html.replace(PLACEHOLDER, (match, id: string, index: string) =>
      id === this.id ? (parts[Number(index)] ?? '') : match,
    )
  }

  cancel(): void {
    this.cancelled?.abort()
  }

  private async resolve(info: DirectiveInfo, attrs: Record<string, string>, it: object): Promise<string> {
    const { user } = this.page
    if (!user) return this.fallback(attrs, it)
    const started = performance.now()
    this.cancelled ??= new AbortController()
    const signal = AbortSignal.any([AbortSignal.timeout(this.options.timeoutMs), this.cancelled.signal])
    const ctx: ResolveContext = { user, nonce: this.page.nonce, acceptLanguage: this.page.acceptLanguage, signal }
    try {
      return await this.call(info.name, attrs, ctx)
    } catch (error) {
      if (error instanceof RenderError) throw error
      // The page itself failed and cancelled this call: not a vendor failure.
      if (this.cancelled.signal.aborted) return ''
      this.options.logger.warn(
        {
          vendor: (error as { vendor?: string }).vendor ?? info.name,
          directive: info.name,
          loc: info.loc,
          cause: error instanceof EmbedsError ? error.code : 'ERR_INTERNAL',
          status: (error as { status?: number }).status,
          latencyMs: Math.round(performance.now() - started),
        },
        'vendor call failed; rendered the fallback',
      )
      return this.fallback(attrs, it)
    }
  }

  private call(name: DirectiveName, attrs: Record<string, string>, ctx: ResolveContext): Promise<string> {
    const { returning, caramelo } = this.options
    if (name === 'widget') {
      if (!returning) throw new RenderError('ERR_CONFIG', '<<widget>> is used but Returning.AI is not configured')
      return resolveWidget(returning, this.options, attrs, ctx)
    }
    if (!caramelo) throw new RenderError('ERR_CONFIG', '<<caramelo>> is used but Caramelo AI is not configured')
    return resolveChatbot(caramelo, this.options, attrs, ctx)
  }

  private async fallback(attrs: Record<string, string>, it: object): Promise<string> {
    if (!attrs.fallback) return ''
    return this.eta.renderAsync(attrs.fallback, it)
  }
}

/** `{expression}` values are checked at render time by the same rules as literals. */
function validated(info: DirectiveInfo, dynamic: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(dynamic)) {
    const problem = checkAttribute(info.name, name, value)
    if (problem) {
      const shown = typeof value === 'string' ? JSON.stringify(value) : String(value)
      throw new RenderError(
        'ERR_ATTRIBUTE_VALUE',
        `bad value ${shown} for '${name}' on <<${info.name}>> at ${info.loc} (${problem})`,
      )
    }
    out[name] = value as string
  }
  return out
}
