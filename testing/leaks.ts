/**
 * What the checks report: one line per leak, naming the check, the place, the form the value had there
 * and an excerpt with the value masked; and the error that carries them all.
 */
import { EmbedsError } from '../plugin/errors.ts'

/** The user a session is logged in as, as the app knows them. */
export interface SessionUser {
  /** The immutable id the app sends vendors (`external_customer_id`, `data-user-id`). */
  id: string
  /** What the vendors are told as the user's email. */
  email: string
  /** The user's display name (Caramelo greets with it). */
  name: string
}

/** The kit's checks, one per SPEC invariant. */
export type LeakCheck = 'secrets' | 'tokens' | 'identity' | 'token pages'

/** One thing a check found. */
export interface Leak {
  /** The check that found it. */
  check: LeakCheck
  /** What and where: `canary of WIDGET_API_KEY in GET http://…/config.js (200) → response body [base64 (offset 1)]: …⟦WIDGET_API_KEY⟧…`. */
  message: string
}

const HEADINGS: Record<LeakCheck, string> = {
  secrets: 'secrets (no canary in any browser byte, log line or build file)',
  tokens: "tokens (each only in its user's page and its vendor's own traffic)",
  identity: 'identity (what vendors were told comes from the session)',
  'token pages': 'token pages (no-store, Vary: Cookie, Referrer-Policy: no-referrer, a fresh CSP nonce)',
}

/** The kit's checks failed: `leaks` lists every finding, the message groups them by check. */
export class LeakError extends EmbedsError {
  declare readonly code: 'ERR_LEAK'
  /** Every leak found, in the order the checks found them. */
  readonly leaks: readonly Leak[]
  constructor(leaks: readonly Leak[]) {
    const lines = [`${leaks.length} ${leaks.length === 1 ? 'leak' : 'leaks'} found:`]
    for (const check of Object.keys(HEADINGS) as LeakCheck[]) {
      const found = leaks.filter((leak) => leak.check === check)
      if (found.length === 0) continue
      // The same leak in several responses (every load of a page) is one line, counted.
      const counts = new Map<string, number>()
      for (const leak of found) counts.set(leak.message, (counts.get(leak.message) ?? 0) + 1)
      lines.push(`${HEADINGS[check]}:`)
      for (const [message, n] of counts) lines.push(`  - ${message}${n > 1 ? ` (${n} times)` : ''}`)
    }
    super('ERR_LEAK', lines.join('\n'))
    this.leaks = leaks
  }
}

/** Throws a {@link LeakError} when `leaks` is not empty. */
export function throwLeaks(leaks: readonly Leak[]): void {
  if (leaks.length > 0) throw new LeakError(leaks)
}

/** Whether every field the vendor was told matches `user` (and it was told at least one). */
export function isHolder(user: SessionUser, told: { id?: string; email?: string; name?: string }): boolean {
  const fields = (['id', 'email', 'name'] as const).filter((field) => told[field] !== undefined)
  return fields.length > 0 && fields.every((field) => told[field] === user[field])
}

/** `email=ada@example.com, id=usr_1`: what a vendor was told, for messages. */
export function describeHolder(told: { id?: string; email?: string; name?: string }): string {
  const fields = (['email', 'id', 'name'] as const).filter((field) => told[field] !== undefined)
  return fields.length === 0 ? 'nobody (no identity sent)' : fields.map((f) => `${f}=${told[f]}`).join(', ')
}
