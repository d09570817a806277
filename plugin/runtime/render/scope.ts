/**
 * One page render's directives: each starts its vendor call at once (or was
 * started even earlier, by `prefetch`) and leaves a mark in the text; once
 * the template has run, the page is written out in document order
 * (`in-order.ts`) or in settle order (`out-of-order.ts`).
 */
import { randomBytes } from 'node:crypto'
import type { Eta } from 'eta/core'
import { RenderError } from '../../errors.ts'
import type { DirectiveHost, DirectiveInfo } from '../../template-module.ts'
import type { Embed, EmbedsUser } from '../../vendors/define.ts'
import type { Runtime, VendorEntry } from '../runtime.ts'
import { fallback, settle, startVendorCall, type VendorCall } from '../vendors/calls.ts'
import { mark, tracked, type PageDirective } from './directives.ts'
import { inDocumentOrder } from './in-order.ts'
import { inSettleOrder } from './out-of-order.ts'
import { locatedRenderError } from './render-error.ts'

/** Who a page is for and how it is protected. */
export interface PageContext {
  /** The verified session user; `undefined` renders every directive's fallback and calls no vendor. */
  user: EmbedsUser | undefined
  nonce: string
  acceptLanguage: string | undefined
}

/**
 * How a page is written out once its template has run: `document` — each
 * directive where it stands, everything after it waiting for it; `settle` —
 * the page's own content at once, each directive as it settles.
 */
export type WriteOrder = 'document' | 'settle'

interface Prefetched {
  entry: VendorEntry
  call: VendorCall
}

export class RenderScope implements DirectiveHost {
  // Created on the first directive only: most renders of most pages (login,
  // errors, anonymous visitors) need none.
  private id: string | undefined
  private readonly directives: PageDirective[] = []
  private readonly prefetched = new Map<string, Prefetched[]>()
  private readonly calls: VendorCall[] = []
  private readonly perPage = new Set<string>()

  constructor(
    private readonly runtime: Runtime,
    private readonly eta: Eta,
    private readonly page: PageContext,
    /** The compiled templates' files (`meta.file`), to locate a failing fallback at its template line. */
    private readonly files: readonly string[],
  ) {}

  /**
   * Starts the vendor calls of directives known to be on the page before the
   * template runs, so they overlap with the template's own work. `embed()`
   * claims them; any left unclaimed are aborted when the page settles.
   * A directive that cannot start (lazy, misconfigured) waits for `embed()`,
   * which reports it where it stands.
   */
  prefetch(infos: DirectiveInfo[]): void {
    const { user } = this.page
    if (!user) return
    for (const info of infos) {
      if (info.attributes['loading'] === 'lazy') continue
      let entry: VendorEntry
      try {
        entry = this.runtime.select(info.name, info.attributes, info.loc)
      } catch {
        continue
      }
      const key = keyOf(info.name, info.attributes)
      const call = this.start(entry, info.attributes, user)
      this.prefetched.set(key, [...(this.prefetched.get(key) ?? []), { entry, call }])
    }
  }

  /** Called by compiled templates where a directive stands; returns its mark at once. */
  embed(info: DirectiveInfo, dynamic: Record<string, unknown>, it: object): string {
    const once = this.runtime.vocabulary.get(info.name)?.onePerPage
    if (once) {
      if (this.perPage.has(info.name)) {
        throw new RenderError('ERR_DIRECTIVE_DUPLICATE', `second <<${info.name}>> on one page at ${info.loc} (${once})`)
      }
      this.perPage.add(info.name)
    }
    const attrs = { ...info.attributes, ...this.validated(info, dynamic) }
    // A call prefetched for these very attributes had its flow selected then.
    const prefetched = this.prefetched.get(keyOf(info.name, attrs))?.shift()
    const entry = prefetched?.entry ?? this.runtime.select(info.name, attrs, info.loc)
    const { user } = this.page
    // Rendered at most once: a slot's no-script copy and a failure share it.
    let rendered: Promise<string> | undefined
    const renderFallback = (name: string) => (rendered ??= this.fallbackHtml(name, it))
    let embed: Promise<Embed>
    if (!user) embed = fallback(this.runtime.logger, attrs['fallback'], renderFallback).then((html) => ({ html }))
    else if (attrs['loading'] === 'lazy') embed = Promise.resolve({ html: this.lazyFrame(entry, attrs) })
    else {
      const call = prefetched?.call ?? this.start(entry, attrs, user)
      const site = { directive: info.name, loc: info.loc, fallback: attrs['fallback'] }
      embed = settle(this.runtime, entry, call, site, renderFallback)
    }
    const index = this.directives.push(
      tracked({
        embed,
        slot: entry.definition.slot?.(entry.config, attrs),
        fallback: () => fallback(this.runtime.logger, attrs['fallback'], renderFallback),
      }),
    )
    this.id ??= randomBytes(12).toString('hex')
    return mark(this.id, index - 1)
  }

  /**
   * A fallback partial's HTML. A failure is located like a page's, so its log
   * line can name the template line; a sync template throws at the call,
   * which this turns into the rejection every caller handles.
   */
  private async fallbackHtml(name: string, it: object): Promise<string> {
    try {
      return await this.eta.renderAsync(name, it)
    } catch (error) {
      throw locatedRenderError(error, this.files, name)
    }
  }

  /** The page, written out in `order` once the template has produced `html`. */
  chunks(html: string, order: WriteOrder): AsyncGenerator<string> {
    this.abortUnclaimed()
    return order === 'settle'
      ? inSettleOrder(html, this.id, this.page.nonce, this.directives)
      : inDocumentOrder(html, this.id, this.directives)
  }

  /** The page failed: vendor calls still running have no page to go to. */
  cancel(): void {
    for (const call of this.calls) call.abort()
  }

  /** A lazy frame: its URL names the vendor and the attributes, signed, and nothing about the user. */
  private lazyFrame(entry: VendorEntry, attrs: Record<string, string>): string {
    const { lazy, name } = entry.definition
    if (!lazy) throw new Error(`internal: ${name} took loading="lazy" without a lazy document`)
    const signed = Object.fromEntries(Object.entries(attrs).filter(([key]) => key !== 'loading' && key !== 'flow'))
    const src = `${this.runtime.options.lazyPath}?${this.runtime.lazyUrls.query(name, signed)}`
    return lazy.frame(src, attrs)
  }

  private start(entry: VendorEntry, attrs: Record<string, string>, user: EmbedsUser): VendorCall {
    const call = startVendorCall(this.runtime, entry, attrs, {
      user,
      nonce: this.page.nonce,
      acceptLanguage: this.page.acceptLanguage,
    })
    this.calls.push(call)
    return call
  }

  /** Prefetched calls no directive claimed (its branch was not taken): stop them quietly. */
  private abortUnclaimed(): void {
    for (const calls of this.prefetched.values()) for (const { call } of calls) call.abort()
    this.prefetched.clear()
  }

  /** `{expression}` values are checked at render time by the same rules as literals. */
  private validated(info: DirectiveInfo, dynamic: Record<string, unknown>): Record<string, string> {
    const out: Record<string, string> = {}
    for (const [name, value] of Object.entries(dynamic)) {
      const problem = this.runtime.vocabulary.check(info.name, name, value)
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
}

function keyOf(name: string, attrs: Record<string, string>): string {
  return `${name}\u0000${JSON.stringify(Object.entries(attrs).sort(([a], [b]) => a.localeCompare(b)))}`
}
