/**
 * The demo's accounts (SPEC "The demo app"). Each has a stable id — what the
 * vendors see as the user's immutable id — and a language.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { EmbedsUser } from '../plugin/runtime/index.ts'

export type Account = Readonly<Required<EmbedsUser>>

const ACCOUNTS: readonly Account[] = [
  { id: 'usr_alice_5f1c2a', email: 'alice@example.com', name: 'Alice', lang: 'en' },
  { id: 'usr_bob_9d7e40', email: 'bob@example.com', name: 'Bob', lang: 'pt-BR' },
]

export interface Accounts {
  /** The account for these credentials, or `undefined`. Compares in constant time. */
  verify(email: string, password: string): Account | undefined
  byId(id: unknown): Account | undefined
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

/** The demo accounts, all sharing `password` (`DEMO_PASSWORD`, default `demo-password`). */
export function demoAccounts(password: string): Accounts {
  const expected = digest(password)
  return {
    verify(email, given) {
      const account = ACCOUNTS.find((a) => a.email === email.trim().toLowerCase())
      // Compare even for an unknown email, so timing does not reveal which emails exist.
      const ok = timingSafeEqual(digest(given), expected)
      return ok ? account : undefined
    },
    byId(id) {
      return typeof id === 'string' ? ACCOUNTS.find((a) => a.id === id) : undefined
    },
  }
}
