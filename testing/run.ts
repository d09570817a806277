/**
 * One test's view of the app under test: the sessions it opens (each a recorded browser context logged in
 * as a user), the identities it forges, and the checks of everything they and the app did.
 */
import type { Browser, BrowserContext, BrowserContextOptions, Page } from '@playwright/test'
import { findIdentityLeaks } from './checks/identity.ts'
import { findTokenPageLeaks } from './checks/pages.ts'
import { findSecretLeaks } from './checks/secrets.ts'
import { findTokenLeaks, type RecordedSession } from './checks/tokens.ts'
import { fileEntries, logEntries, taggedUserAgent } from './entries.ts'
import { throwLeaks, type Leak, type SessionUser } from './leaks.ts'
import { Recorder } from './recorder.ts'
import { markStubs, type CanaryVendors } from './vendors.ts'

/** A recorded browser context and the user it is for. */
export interface Session {
  /** The user it is for: tokens minted for them may be in its pages. */
  user: SessionUser
  /** Its label in messages and in its User-Agent. */
  label: string
  /** Its browser context: `baseURL` is the app, `userAgent` names the session. */
  context: BrowserContext
  /** Its first page; open more with `context.newPage()`: they are recorded too. */
  page: Page
  /** Everything the context sent, received and kept; `check()` reads it. */
  recorder: Recorder
}

/** What the checks need to know about the app beyond what the kit started. */
export interface RunOptions {
  /** Paths of the pages that render directives (`['/']`); unset: any path of the app. */
  pages?: readonly string[]
  /** The runtime's lazy route. @default '/_embeds/widget' */
  lazyPath?: string
  /** The build output to scan for the secrets, e.g. `dist` (built with `canarySecrets()` in its environment). */
  dist?: string
}

/** Options of `check()`. */
export interface CheckOptions {
  /**
   * Also require every token seen in its vendor's own use (the widget calling its API with it, the chat
   * opening its socket with it): a positive control that the recording saw the vendor's traffic. Wait for
   * the widgets to show their user before checking.
   * @default false
   */
  requireUse?: boolean
}

/**
 * How long `check()` waits for each open page to go quiet (no request for 500 ms) before it reads the
 * recordings; a page that never does (a long poll) is checked as it is then.
 */
const QUIET_MS = 10_000

/** A user who is no one: what `probeIdentity` forges into requests. */
export const FORGED_USER: SessionUser = {
  id: 'usr_forged_5e1f9a0c',
  email: 'mallory.forged@example.net',
  name: 'Mallory Forgeworth',
}

/** Request headers that apps or proxies are known to read an identity from. */
const FORGED_HEADERS = {
  'x-user-email': FORGED_USER.email,
  'x-forwarded-user': FORGED_USER.email,
  'x-forwarded-email': FORGED_USER.email,
  'x-auth-request-email': FORGED_USER.email,
  'x-remote-user': FORGED_USER.email,
  'remote-user': FORGED_USER.email,
  'x-user-id': FORGED_USER.id,
  'x-user-name': FORGED_USER.name,
  from: FORGED_USER.email,
}

/** Query and form fields that apps are known to read an identity from. */
const FORGED_FIELDS = {
  email: FORGED_USER.email,
  user: FORGED_USER.email,
  uid: FORGED_USER.id,
  id: FORGED_USER.id,
  user_id: FORGED_USER.id,
  userId: FORGED_USER.id,
  name: FORGED_USER.name,
  'data-email': FORGED_USER.email,
  'data-user-id': FORGED_USER.id,
  external_customer_id: FORGED_USER.id,
}

/** The app as one test sees it. */
export class EmbedsRun {
  private readonly sessions: Session[] = []
  private readonly forged: SessionUser[] = []
  private readonly mark

  /**
   * @param browser where sessions open their contexts.
   * @param app the running app: its URL, its output so far (kept growing) and the stubs it talks to.
   * @param options which pages may hold tokens, the lazy route, the build output to scan.
   * @param contextOptions more options for every session's context (Playwright's `contextOptions`).
   */
  constructor(
    private readonly browser: Browser,
    private readonly app: { url: string; logs: readonly string[]; vendors: CanaryVendors },
    private readonly options: RunOptions = {},
    private readonly contextOptions: BrowserContextOptions = {},
  ) {
    this.mark = markStubs(app.vendors.witnesses)
  }

  /** The app's origin. */
  get url(): string {
    return this.app.url
  }

  /**
   * Opens a recorded browser context for `user` (not logged in yet: log in through your app) with the
   * app as its `baseURL`. Every browser of a test must be a session: a token delivered to any other
   * fails the checks as undelivered.
   */
  async session(user: SessionUser, options: { label?: string } = {}): Promise<Session> {
    const label = options.label ?? user.email
    if (this.sessions.some((s) => s.label === label)) throw new Error(`session(): the label '${label}' is taken`)
    const context = await this.browser.newContext({
      ...this.contextOptions,
      baseURL: this.app.url,
      userAgent: taggedUserAgent(label),
      // A service worker's fetches bypass the recorder.
      serviceWorkers: 'block',
    })
    const recorder = new Recorder(label, context)
    const session = { user, label, context, page: await context.newPage(), recorder }
    this.sessions.push(session)
    return session
  }

  /**
   * Sends the app an identity that is not the session's — {@link FORGED_USER} in the query string, in a
   * form body and in headers — by posting a form to `path` and then loading it, in `page`. The checks then
   * require that no vendor heard of it. `page` ends on `path` as the app answered it. Resolves with the
   * requests the headers were forged onto (`POST http://…/?…`): the recorder shows the headers the browser
   * meant to send, not those a route added.
   */
  async probeIdentity(page: Page, path = '/'): Promise<string[]> {
    const target = new URL(path, this.app.url)
    for (const [name, value] of Object.entries(FORGED_FIELDS)) target.searchParams.set(name, value)
    const origin = target.origin
    this.forged.push(FORGED_USER)
    const forge = (url: URL) => url.origin === origin
    const forged: string[] = []
    const handler = (route: Parameters<Parameters<BrowserContext['route']>[1]>[0]) => {
      forged.push(`${route.request().method()} ${route.request().url()}`)
      return route.continue({ headers: { ...route.request().headers(), ...FORGED_HEADERS } })
    }
    await page.context().route(forge, handler)
    try {
      const navigated = page.waitForEvent('framenavigated', (frame) => frame === page.mainFrame())
      await page.evaluate(
        ({ action, fields }) => {
          const form = document.createElement('form')
          form.method = 'post'
          form.action = action
          for (const [name, value] of Object.entries(fields)) {
            const input = document.createElement('input')
            input.type = 'hidden'
            input.name = name
            input.value = value
            form.append(input)
          }
          document.body.append(form)
          form.submit()
        },
        { action: target.href, fields: FORGED_FIELDS },
      )
      await navigated
      await page.waitForLoadState()
      await page.goto(target.href)
    } finally {
      await page.context().unroute(forge, handler)
    }
    return forged
  }

  /** Every leak the kit's checks find in what this test's sessions, the stubs and the app did. */
  async findLeaks(options: CheckOptions = {}): Promise<Leak[]> {
    if (this.sessions.length === 0) throw new Error('check(): no session was recorded: open one with session(user)')
    const tokens = this.mark.tokens()
    if (tokens.length === 0) {
      throw new Error(
        'check(): no vendor minted a token during this test, so there is nothing to check: log a session in ' +
          'and load a page with directives first',
      )
    }
    // A page's own requests can start after its load event (a fetch on DOMContentLoaded still queued):
    // let every open page go quiet first, so that the recordings hold them.
    await Promise.all(
      this.sessions
        .flatMap((s) => s.context.pages())
        .map((p) => p.waitForLoadState('networkidle', { timeout: QUIET_MS }).catch(() => undefined)),
    )
    const sessions: RecordedSession[] = []
    for (const s of this.sessions) sessions.push({ label: s.label, user: s.user, entries: await s.recorder.finish() })
    const witness = this.mark.browserRequests()
    const logs = logEntries(this.app.logs)
    const files = this.options.dist === undefined ? [] : await fileEntries(this.options.dist)
    const browser = sessions.flatMap((s) => s.entries)
    const shapes = new Map(this.app.vendors.witnesses.map((w) => [w.vendor, w.token]))
    const lazyVendors = new Set(
      [...this.app.vendors.adapters].filter(([, a]) => a.definition.lazy !== undefined).map(([name]) => name),
    )
    const pages = {
      origin: new URL(this.app.url).origin,
      lazyVendors,
      ...(this.options.pages === undefined ? {} : { paths: this.options.pages }),
      ...(this.options.lazyPath === undefined ? {} : { lazyPath: this.options.lazyPath }),
    }
    return [
      ...findSecretLeaks(this.app.vendors.secrets, [...browser, ...witness, ...logs, ...files]),
      ...findTokenLeaks({ tokens, sessions, witness, logs, shapes, pages, requireUse: options.requireUse ?? false }),
      ...findIdentityLeaks({ tokens, sessions, vendorRequests: this.mark.serverRequests(), forged: this.forged }),
      ...findTokenPageLeaks(
        tokens,
        this.sessions.flatMap((s) => s.recorder.responses),
      ),
    ]
  }

  /**
   * Runs every check (secrets, tokens, identity, token pages) and throws a `LeakError` that lists each
   * leak: the place, the form the value had there, and an excerpt with the value masked.
   */
  async check(options: CheckOptions = {}): Promise<void> {
    throwLeaks(await this.findLeaks(options))
  }

  /** Closes every session's context. */
  async close(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.context.close()))
  }
}
