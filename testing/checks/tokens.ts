/**
 * SPEC invariant 2: a minted token appears only in the HTML document rendered for its user (and that
 * page's DOM, its inline `srcdoc` frames, the lazy route's frame document) and in its vendor's own use of
 * it — never in a URL, a header, a cookie, storage, another response, a log line or another user's browser.
 */
import type { TokenShape } from '../../stubs/witness.ts'
import type { Entry } from '../entries.ts'
import { describeHolder, isHolder, type Leak, type SessionUser } from '../leaks.ts'
import { describeFound, scan, type Found } from '../scan.ts'
import type { MintedToken } from '../vendors.ts'

/** One recorded browser context and whom it is logged in as. */
export interface RecordedSession {
  /** The recorder's label: the `context` of its entries and of the stubs' entries from its browser. */
  label: string
  /** The user it is logged in as. */
  user: SessionUser
  /** What its recorder holds (`finish()`). */
  entries: readonly Entry[]
}

/** Which documents of the app are pages a token may be written into. */
export interface TokenPages {
  /** The app's origin: `http://127.0.0.1:41234`. */
  origin: string
  /** Paths of pages that render directives (`['/']`); unset: any path of the app. */
  paths?: readonly string[]
  /** The runtime's lazy route, whose frame documents hold a lazy vendor's token. @default '/_embeds/widget' */
  lazyPath?: string
  /** Vendors that offer lazy frames (their adapter has `lazy`). */
  lazyVendors: ReadonlySet<string>
}

/** What {@link findTokenLeaks} reads. */
export interface TokenCheck {
  /** The tokens minted during the test (`markStubs(…).tokens()`). */
  tokens: readonly MintedToken[]
  /** Every browser of the test. */
  sessions: readonly RecordedSession[]
  /** What the stubs received from browsers (`witnessEntries`), whether or not it names a session. */
  witness: readonly Entry[]
  /** The server's log lines. */
  logs: readonly Entry[]
  /** Each vendor's token shape, by vendor name. */
  shapes: ReadonlyMap<string, TokenShape>
  pages: TokenPages
  /** Also require each token seen in its vendor's own use (a positive control that the recording saw it). */
  requireUse?: boolean
}

/** Whether `url` is a document of the app that may hold `vendor`'s token. */
function isPage(url: string | undefined, vendor: string, pages: TokenPages): boolean {
  if (url === undefined) return false
  const parsed = new URL(url)
  if (parsed.origin !== pages.origin) return false
  if (pages.lazyVendors.has(vendor) && parsed.pathname === (pages.lazyPath ?? '/_embeds/widget')) return true
  return pages.paths === undefined || pages.paths.includes(parsed.pathname)
}

/** Whether the token may be where `found` is, for the sessions that own it. */
function allowed(token: MintedToken, found: Found, owners: ReadonlySet<string>, check: TokenCheck): boolean {
  const { entry } = found
  if (entry.kind === 'log') return false
  const shape = check.shapes.get(token.vendor)
  const used = shape?.uses.some((use) => use.matches(entry, token.token)) === true
  // A request of a frame Playwright did not attach to in time names no session: only its vendor's use is fine.
  if (entry.context === undefined) return used
  if (!owners.has(entry.context)) return false
  if (entry.kind === 'response body') {
    return entry.resourceType === 'document' && isPage(entry.url, token.vendor, check.pages)
  }
  if (entry.kind === 'dom') {
    return isPage(entry.url, token.vendor, check.pages) || (shape?.srcdoc === true && entry.url === 'about:srcdoc')
  }
  return used
}

/** The sessions a token belongs to: those of its user, else those whose page it was delivered to. */
function ownersOf(token: MintedToken, found: readonly Found[], check: TokenCheck): Set<string> {
  const holders = check.sessions.filter((s) => isHolder(s.user, token.user)).map((s) => s.label)
  if (holders.length > 0) return new Set(holders)
  // Minted for no one of this test: the identity check says so; here, the pages it reached are its own.
  const delivered = found.filter(
    (f) =>
      f.entry.kind === 'response body' &&
      f.entry.resourceType === 'document' &&
      isPage(f.entry.url, token.vendor, check.pages),
  )
  return new Set(delivered.flatMap((f) => (f.entry.context === undefined ? [] : [f.entry.context])))
}

/** Every place a token is where it must not be, and every token the recording did not see delivered. */
export function findTokenLeaks(check: TokenCheck): Leak[] {
  const haystack = [...check.sessions.flatMap((s) => s.entries), ...check.witness, ...check.logs]
  const leaks: Leak[] = []
  const counts = new Map<string, number>()
  for (const token of check.tokens) {
    const n = (counts.get(token.vendor) ?? 0) + 1
    counts.set(token.vendor, n)
    const what = `${token.vendor} token #${n} (minted for ${describeHolder(token.user)})`
    const found = scan(haystack, token.token, 'token')
    const owners = ownersOf(token, found, check)
    for (const line of describeFound(found.filter((f) => !allowed(token, f, owners, check)))) {
      leaks.push({ check: 'tokens', message: `${what} in ${line}` })
    }
    const delivered = found.some(
      (f) => f.entry.kind === 'response body' && owners.has(f.entry.context ?? '') && allowed(token, f, owners, check),
    )
    if (!delivered) {
      leaks.push({
        check: 'tokens',
        message: `${what} was in no page this test recorded for its user: record every browser context (session())`,
      })
    }
    const uses = check.shapes.get(token.vendor)?.uses ?? []
    if (check.requireUse && uses.length > 0 && !found.some((f) => uses.some((u) => u.matches(f.entry, token.token)))) {
      leaks.push({
        check: 'tokens',
        message: `${what} was never seen in its vendor's own use (${uses.map((u) => u.what).join('; ')})`,
      })
    }
  }
  return leaks
}
