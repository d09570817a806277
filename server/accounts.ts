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

/**
 * Extra accounts for the load suite (`load/`) only: `DEMO_LOAD_USERS=N` adds
 * `load-user-<i>@example.com` (name `Load <i>`, id `usr_load_<i>`, `en`) for
 * i = 1…N, with the demo password. A load test needs many distinct users, each
 * with its own session and tokens; the demo's two are not enough.
 *
 * Demo-only by construction: these are well-known emails with a shared,
 * published password. So the mode is refused where `NODE_ENV` is `production`
 * (the production server sets it when unset) unless `DEMO_LOAD_MODE=1` says,
 * explicitly, that this production build is a load-test target.
 */
export const MAX_LOAD_USERS = 10_000

/**
 * The number of load-test accounts `env` asks for; throws when the value is bad
 * or the mode is refused. `production` defaults to `NODE_ENV === 'production'`.
 */
export function loadUsersFromEnv(
  env: Record<string, string | undefined>,
  production = env['NODE_ENV'] === 'production',
): number {
  const raw = env['DEMO_LOAD_USERS']?.trim() ?? ''
  if (raw === '') return 0
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0 || n > MAX_LOAD_USERS) {
    throw new TypeError(`DEMO_LOAD_USERS must be an integer from 0 to ${MAX_LOAD_USERS}, got '${raw}'`)
  }
  if (n === 0) return 0
  if (production && env['DEMO_LOAD_MODE'] !== '1') {
    throw new TypeError(
      'DEMO_LOAD_USERS adds accounts with a published password and is refused in production: ' +
        'unset it, or set DEMO_LOAD_MODE=1 on a load-test deployment only',
    )
  }
  return n
}

function loadAccount(i: number): Account {
  return { id: `usr_load_${i}`, email: `load-user-${i}@example.com`, name: `Load ${i}`, lang: 'en' }
}

export interface DemoAccountsOptions {
  /** Load-test accounts to add (see {@link loadUsersFromEnv}). @default 0 */
  loadUsers?: number
}

export interface Accounts {
  /** The account for these credentials, or `undefined`. Compares in constant time. */
  verify(email: string, password: string): Account | undefined
  byId(id: unknown): Account | undefined
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

/** The demo accounts, all sharing `password` (`DEMO_PASSWORD`, default `demo-password`). */
export function demoAccounts(password: string, options: DemoAccountsOptions = {}): Accounts {
  const expected = digest(password)
  const loadUsers = options.loadUsers ?? 0
  const all = [...ACCOUNTS, ...Array.from({ length: loadUsers }, (_, i) => loadAccount(i + 1))]
  // Maps, not array scans: the load suite logs in hundreds of users.
  const byEmail = new Map(all.map((a) => [a.email, a]))
  const byId = new Map(all.map((a) => [a.id, a]))
  return {
    verify(email, given) {
      const account = byEmail.get(email.trim().toLowerCase())
      // Compare even for an unknown email, so timing does not reveal which emails exist.
      const ok = timingSafeEqual(digest(given), expected)
      return ok ? account : undefined
    },
    byId(id) {
      return typeof id === 'string' ? byId.get(id) : undefined
    },
  }
}
