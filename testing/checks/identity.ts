/**
 * SPEC invariant 3: what the server tells a vendor about the user comes from the verified session. A token
 * delivered into a session's page was minted for that session's user, every token was minted for a user
 * logged in during the test, and no value of an identity forged into the request (query, headers, body)
 * reached a vendor.
 */
import type { Entry } from '../entries.ts'
import { describeHolder, isHolder, type Leak, type SessionUser } from '../leaks.ts'
import { describeFound, scan } from '../scan.ts'
import type { MintedToken } from '../vendors.ts'
import type { RecordedSession } from './tokens.ts'

/** What {@link findIdentityLeaks} reads. */
export interface IdentityCheck {
  /** The tokens minted during the test. */
  tokens: readonly MintedToken[]
  /** Every browser of the test. */
  sessions: readonly RecordedSession[]
  /** What the server sent the vendors during the test (`serverEntries`). */
  vendorRequests: readonly Entry[]
  /** Identities forged into requests during the test (the fields sent): none of their values may reach a vendor. */
  forged: readonly Partial<SessionUser>[]
}

/** Every token minted for someone else than the user whose page it reached, or for no user of the test. */
function mismatches(check: IdentityCheck): Leak[] {
  const leaks: Leak[] = []
  for (const token of check.tokens) {
    const what = `a ${token.vendor} token minted for ${describeHolder(token.user)}`
    let delivered = false
    for (const session of check.sessions) {
      const pages = session.entries.filter((e) => e.kind === 'response body' && e.resourceType === 'document')
      for (const found of scan(pages, token.token, 'token')) {
        delivered = true
        if (isHolder(session.user, token.user)) continue
        const [line] = describeFound([found])
        leaks.push({
          check: 'identity',
          message: `${what} reached the page of ${session.label}, whose session user is ${describeHolder(session.user)}: ${line}`,
        })
      }
    }
    if (!delivered && !check.sessions.some((session) => isHolder(session.user, token.user))) {
      leaks.push({ check: 'identity', message: `${what}, who is the user of no session of this test` })
    }
  }
  return leaks
}

/** Every forged value found in what the server sent a vendor. */
function forgedValues(check: IdentityCheck): Leak[] {
  const leaks: Leak[] = []
  for (const user of check.forged) {
    for (const field of ['email', 'id', 'name'] as const) {
      const value = user[field]
      if (value === undefined) continue
      for (const line of describeFound(scan(check.vendorRequests, value, `forged ${field}`))) {
        leaks.push({
          check: 'identity',
          message: `the forged ${field} sent with the request reached a vendor: ${line}`,
        })
      }
    }
  }
  return leaks
}

/** Every sign that a vendor was told about someone other than the session's user. */
export function findIdentityLeaks(check: IdentityCheck): Leak[] {
  return [...mismatches(check), ...forgedValues(check)]
}
