/**
 * One page render's directives: each starts its vendor call at once (or was
 * started even earlier, by `prefetch`), leaves a placeholder in the text, and
 * is swapped in, in document order, as it settles.
 */
import { randomBytes } from 'node:crypto'
import type { Eta } from 'eta/core'
import type { DirectiveInfo } from '../compiler/codegen.ts'
import { checkAttribute } from '../directives.ts'
import { RenderError } from '../errors.ts'
import { checkConfigured, logVendorFailure, startVendorCall, vendorOf, type VendorCall } from './directive.ts'
import type { ResolvedEmbedsOptions } from './options.ts'
import type { EmbedsUser } from './user.ts'
import { lazyWidgetFrame } from './vendors/returning.ts'

/** Who a page is for and how it is protected. */
export interface PageContext {
  /** The verified session user; `undefined` renders every directive's fallback and calls no vendor. */
  user: EmbedsUser | undefined
  nonce: string
  acceptLanguage: string | undefined
}

// A placeholder: NUL, the render's random id, the directive's index, NUL.
// eslint-disable-next-line no-control-regex -- NUL delimits placeholders, by design
const PLACEHOLDER = /\u0000([0-9a-f]{24}):(\d+)\u0000/g

export class RenderScope {
  // Created on the first directive only: most renders of most pages (login,
  // errors, anonymous visitors) need none.
  private id: string | undefined
  private readonly pending: Promise<string>[] = []
  private readonly prefetched = new Map<string, VendorCall[]>()
  private readonly calls: VendorCall[] = []
  private chatbots = 0

  constructor(
    private readonly options: ResolvedEmbedsOptions,
    private readonly eta: Eta,
    private readonly page: PageContext,
  ) {}

  /**
   * Starts the vendor calls of directives known to be on the page before the
   * template runs, so they overlap with the template's own work. `embed()`
   * claims them; any left unclaimed are aborted when the page settles.
   */
  prefetch(infos: DirectiveInfo[]): void {
    const { user } = this.page
    if (!user) return
    for (const info of infos) {
      if (info.attributes['loading'] === 'lazy' || checkConfigured(this.options, info.name, info.attributes)) continue
      const call = this.start(info.name, info.attributes, user)
      const key = keyOf(info.name, info.attributes)
      this.prefetched.set(key, [...(this.prefetched.get(key) ?? []), call])
    }
  }

  /** Called by compiled templates where a directive stands; returns its placeholder at once. */
  embed(info: DirectiveInfo, dynamic: Record<string, unknown>, it: object): string {
    if (info.name === 'caramelo' && ++this.chatbots > 1) {
      throw new RenderError(
        'ERR_DIRECTIVE_DUPLICATE',
        `second <<caramelo>> on one page at ${info.loc} (a page can hold at most one chatbot)`,
      )
    }
    const attrs = { ...info.attributes, ...validated(info, dynamic) }
    const { user } = this.page
    const problem = checkConfigured(this.options, info.name, attrs)
    if (problem) throw new RenderError('ERR_CONFIG', `${problem} (${info.loc})`)
    let html: Promise<string>
    if (!user) html = this.fallback(attrs, it)
    else if (info.name === 'widget' && attrs['loading'] === 'lazy') {
      html = Promise.resolve(lazyWidgetFrame(this.options.lazyPath, this.options.state.lazyUrls, attrs))
    } else {
      const call = this.prefetched.get(keyOf(info.name, attrs))?.shift() ?? this.start(info.name, attrs, user)
      html = this.settleCall(call, info, attrs, it)
    }
    const index = this.pending.push(html) - 1
    this.id ??= randomBytes(12).toString('hex')
    return `\u0000${this.id}:${index}\u0000`
  }

  /** The page in document order: text up to each placeholder at once, each directive as it settles. */
  async *chunks(html: string): AsyncGenerator<string> {
    this.abortUnclaimed()
    if (!this.pending.length) {
      yield html
      return
    }
    let last = 0
    for (const match of html.matchAll(PLACEHOLDER)) {
      // Only this render's placeholders: the id is unguessable, so text from
      // the template's data can never pose as one.
      if (match[1] !== this.id) continue
      if (match.index > last) yield html.slice(last, match.index)
      yield (await this.pending[Number(match[2])]) ?? ''
      last = match.index + match[0].length
    }
    if (last < html.length) yield html.slice(last)
  }

  /** The page failed: vendor calls still running have no page to go to. */
  cancel(): void {
    for (const call of this.calls) call.abort()
  }

  private start(name: DirectiveInfo['name'], attrs: Record<string, string>, user: EmbedsUser): VendorCall {
    const page = { user, nonce: this.page.nonce, acceptLanguage: this.page.acceptLanguage }
    const call = startVendorCall(this.options, name, attrs, page)
    this.calls.push(call)
    return call
  }

  /** Prefetched calls no directive claimed (its branch was not taken): stop them quietly. */
  private abortUnclaimed(): void {
    for (const calls of this.prefetched.values()) for (const call of calls) call.abort()
    this.prefetched.clear()
  }

  /** A vendor call's HTML, or — on any failure — one log line and the fallback. */
  private async settleCall(call: VendorCall, info: DirectiveInfo, attrs: Record<string, string>, it: object) {
    try {
      return await call.html
    } catch (error) {
      if (call.aborted) return ''
      logVendorFailure(this.options.logger, {
        vendor: vendorOf(info.name),
        directive: info.name,
        loc: info.loc,
        error,
        started: call.started,
      })
      return this.fallback(attrs, it)
    }
  }

  private async fallback(attrs: Record<string, string>, it: object): Promise<string> {
    if (!attrs['fallback']) return ''
    try {
      return await this.eta.renderAsync(attrs['fallback'], it)
    } catch (error) {
      // The page may already be streaming: a broken fallback must not take it down.
      this.options.logger.warn({ fallback: attrs['fallback'], cause: (error as Error).name }, 'fallback failed')
      return ''
    }
  }
}

function keyOf(name: string, attrs: Record<string, string>): string {
  return `${name}\u0000${JSON.stringify(Object.entries(attrs).sort(([a], [b]) => a.localeCompare(b)))}`
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
