/**
 * `vite-plugin-eta-embeds/testing` — the kit that proves, in your own Playwright suite, that your app
 * keeps the vendor secrets on the server, each token in its user's page, the vendors' idea of the user
 * from the session, and token pages out of caches (SPEC invariants 1–4).
 *
 * Most apps need `test` (Playwright's, with the `embeds` fixtures), `embedsOptions` in their config and
 * `canarySecrets` for their build. The pieces underneath are exported for suites that start their app
 * their own way.
 */
export { test, expect } from './fixture.ts'
export type { EmbedsApp, EmbedsOptions, EmbedsTestFixtures, EmbedsWorkerFixtures } from './fixture.ts'
export { EmbedsRun, FORGED_USER, type CheckOptions, type RunOptions, type Session } from './run.ts'
export {
  canaryFor,
  canarySecrets,
  markStubs,
  startCanaryVendors,
  type CanaryOptions,
  type CanaryVendors,
  type CanaryVendorsOptions,
  type MintedToken,
  type StubMark,
  type TestVendor,
} from './vendors.ts'
export { startApp, type AppCommand, type RunningApp } from './app.ts'
export { Recorder, type RecordedResponse } from './recorder.ts'
export {
  fileEntries,
  logEntries,
  serverEntries,
  taggedUserAgent,
  witnessEntries,
  type Entry,
  type EntryKind,
} from './entries.ts'
export { describeFound, encodings, scan, type Found } from './scan.ts'
export { LeakError, type Leak, type LeakCheck, type SessionUser } from './leaks.ts'
export { findSecretLeaks } from './checks/secrets.ts'
export { findTokenLeaks, type RecordedSession, type TokenCheck, type TokenPages } from './checks/tokens.ts'
export { findIdentityLeaks, type IdentityCheck } from './checks/identity.ts'
export {
  checkTokenPage,
  expectTokenPage,
  findTokenPageLeaks,
  type TokenPage,
  type TokenPageReport,
} from './checks/pages.ts'
