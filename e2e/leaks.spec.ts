/**
 * The leak suite (issue 5): every SPEC invariant proved in a real browser,
 * with canary secrets, in development and in production. Each scenario
 * records what the browser sends, receives and keeps (`recorder.ts`) and
 * scans it, raw and encoded; each also proves that its recording is not empty.
 * Invariants 5 and 6 need stacks of their own: `leaks-failing-vendors.spec.ts`
 * and `leaks-hostile-vendors.spec.ts`.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Response } from '@playwright/test'
import { expect, lazyWidgetSrc, logIn, test } from './fixtures.ts'
import {
  ALICE,
  BOB,
  expectHome,
  expectNowhere,
  inlineScripts,
  kindsHolding,
  logOut,
  mintMark,
  newSession,
  vendorWitness,
  type Minted,
} from './leak-helpers.ts'
import { describeFound, encodings, fileEntries, logEntries, scan, type Entry } from './recorder.ts'
import { CANARIES } from './stack.ts'

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist')

test('scan finds a value raw and in every encoding a leak would use, and says where', () => {
  const needle = 'tok+en/"<x>&\'é-1234'
  const places: Entry[] = [
    { kind: 'response body', where: 'base64 at offset 1', text: Buffer.from(`a${needle}b`).toString('base64') },
    { kind: 'cookie', where: 'base64url at offset 2', text: Buffer.from(`ab${needle}`).toString('base64url') },
    { kind: 'request url', where: 'query', text: `/?q=${encodeURIComponent(needle)}` },
    { kind: 'response body', where: 'json', text: JSON.stringify({ needle }) },
    {
      kind: 'response body',
      where: 'attribute',
      text: `<p title="${needle.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll("'", '&#39;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')}">`,
    },
    { kind: 'log', where: 'unrelated', text: 'tok en nothing here' },
  ]
  expect(describeFound(scan(places, needle)).map((line) => line.split(' [')[0])).toEqual([
    'base64 at offset 1',
    'base64url at offset 2',
    'query',
    'json',
    'attribute',
  ])
  expect(() => encodings('short')).toThrow(/too short/)
})

test('anonymous: neither the home page nor the lazy route calls a vendor', async ({ page, recorder, stack }) => {
  const calls = () =>
    stack.returning.received.length + stack.returningSdk.received.length + stack.caramelo.received.length
  const before = calls()
  await page.goto('/')
  await expect(page).toHaveURL(/\/login$/)
  const lazy = await page.goto('/_embeds/widget?type=store&id=e2e-store&fallback=partials%2Fwidget-unavailable')
  expect(lazy?.status()).toBe(401)
  expect((await page.goto('/_embeds/widget?type=milestone&id=demo-milestones'))?.status()).toBe(401)
  const entries = await recorder.finish()
  expect(calls()).toBe(before)
  expect(kindsHolding(entries, 'Log in to see this widget.')).toContain('response body')
  const vendorOrigins = [stack.returning.url, stack.returningSdk.apiUrl, stack.caramelo.apiUrl]
  expect(recorder.of('request url').filter((e) => vendorOrigins.some((o) => e.text.startsWith(o)))).toEqual([])
})

test('invariant 1: the API key, the access key, the secret token, the session key and the metrics token reach no browser byte, log line or dist file', async ({
  browser,
  stack,
  mode,
}) => {
  const { context, recorder, page } = await newSession(browser, stack, 'alice')

  await page.goto('/login')
  await page.getByLabel('Email').fill(ALICE.email)
  await page.getByLabel('Password').fill('not-the-password')
  await page.getByRole('button', { name: 'Log in' }).click()
  await expect(page.getByRole('alert')).toHaveText('Wrong email or password.')
  await logIn(page, ALICE.email)
  await expectHome(page, ALICE)
  await page.reload()
  await expectHome(page, ALICE)
  // What a curious visitor would try: environment files, the process environment through
  // Vite's /@fs/, Vite's env module, error answers of the lazy route, an unknown path.
  for (const probe of [
    '/.env',
    '/@fs/proc/self/environ',
    '/@vite/env',
    '/_embeds/widget?type=store&id=e2e-store&fallback=partials%2Fnope',
    '/_embeds/widget?type=nope',
    '/nope',
  ]) {
    await page.goto(probe)
  }
  await page.goto('/')
  await expectHome(page, ALICE)

  // Positive controls: one marker through every channel the recorder claims to watch.
  const probe = 'recorder-probe-7f3a91c2'
  await page.evaluate((marker) => {
    localStorage.setItem('probe', marker)
    sessionStorage.setItem('probe', marker)
    console.log(marker)
    setTimeout(() => {
      throw new Error(marker)
    })
    alert(marker)
  }, probe)
  await expect.poll(() => recorder.of('page error').length).toBeGreaterThan(0)
  await recorder.snapshot(page)
  await logOut(page)

  const browserEntries = await recorder.finish()
  const logs = logEntries(stack.logs)
  const files = mode === 'prod' ? await fileEntries(DIST) : []
  const witness = vendorWitness(stack)
  const everything = [...browserEntries, ...witness, ...logs, ...files]

  // A scan of nothing proves nothing: each channel held what it must.
  expect(kindsHolding(everything, probe)).toEqual(['console', 'dialog', 'page error', 'storage'])
  expect(scan(browserEntries, probe).map((f) => f.entry.where.split(' of ')[0])).toEqual(
    expect.arrayContaining(['localStorage', 'sessionStorage']),
  )
  expect(kindsHolding(everything, 'Hello, Alice!')).toEqual(['dom', 'response body'])
  expect(kindsHolding(everything, ALICE.email)).toEqual(
    expect.arrayContaining(['dom', 'request body', 'response body']),
  )
  expect(kindsHolding(everything, 'Hi Alice! How can I help?')).toEqual(expect.arrayContaining(['websocket received']))
  expect(kindsHolding(everything, '"type":"auth"')).toEqual(['websocket sent'])
  expect(kindsHolding(everything, 'sid.sig=')).toEqual(['cookie', 'request header', 'response header'])
  expect(recorder.skipped.some((s) => s.startsWith('storage of frame about:srcdoc'))).toBe(true)
  expect(logs.some((e) => e.text.includes('"path":"/"'))).toBe(true)
  expect(witness.filter((e) => e.name === 'authorization' && e.context === 'alice').length).toBeGreaterThan(0)
  // The SDK ran in alice's page and validated her embed token at the vendor.
  const validations = witness.filter((e) => e.kind === 'request body' && e.url?.endsWith('/validate'))
  expect(validations.filter((e) => e.context === 'alice' && e.text.includes('"embedToken"')).length).toBeGreaterThan(0)
  // The access key is a live canary: the server sent it, server to server, for every embed token.
  const tokenCalls = stack.returningSdk.received.filter((r) => r.path.endsWith('/widget-access-keys/token'))
  expect(tokenCalls.length).toBeGreaterThan(0)
  expect(tokenCalls.filter((r) => !r.body.includes(CANARIES.accessKey))).toEqual([])
  if (mode === 'prod') {
    expect(files.map((f) => f.where)).toEqual(expect.arrayContaining(['dist/server/templates.js']))
    expect(kindsHolding(files, 'eta-embeds-widget')).toEqual(['file'])
  }

  for (const [name, canary] of Object.entries(CANARIES)) expectNowhere(everything, canary, `canary ${name}`)
  await context.close()
})

test('invariant 2: a token appears only in its own user’s page and in its vendor’s own traffic', async ({
  browser,
  stack,
}) => {
  const mark = mintMark(stack)
  const alice = await newSession(browser, stack, 'alice')
  const bob = await newSession(browser, stack, 'bob')

  await logIn(alice.page, ALICE.email)
  await expectHome(alice.page, ALICE)
  await logIn(bob.page, BOB.email)
  await expectHome(bob.page, BOB)
  await alice.page.reload()
  await expectHome(alice.page, ALICE)
  // Both at once, twice: renders for two users in flight together.
  for (let round = 0; round < 2; round++) {
    await Promise.all([alice.page.reload(), bob.page.reload()])
    await Promise.all([expectHome(alice.page, ALICE), expectHome(bob.page, BOB)])
  }
  await Promise.all([alice.recorder.snapshot(alice.page), bob.recorder.snapshot(bob.page)])
  await logOut(bob.page)
  await logOut(alice.page)

  // Each user's haystack: their browser's recording, and what the vendor stubs received from it.
  const recorded = { alice: await alice.recorder.finish(), bob: await bob.recorder.finish() }
  const witness = vendorWitness(stack)
  const haystacks = {
    [ALICE.email]: [...recorded.alice, ...witness.filter((e) => e.context === 'alice')],
    [BOB.email]: [...recorded.bob, ...witness.filter((e) => e.context === 'bob')],
  }
  // Requests of widget frames Playwright did not attach to in time carry no tag: checked for every token.
  const untagged = witness.filter((e) => e.context === undefined)
  const logs = logEntries(stack.logs)
  const minted = mark.since()
  for (const user of [ALICE, BOB]) {
    for (const vendor of ['returning', 'returning-sdk', 'caramelo']) {
      const count = minted.filter((m) => m.email === user.email && m.vendor === vendor).length
      expect(count, `${vendor} tokens minted for ${user.email}`).toBeGreaterThanOrEqual(3)
    }
  }

  const ours = new URL(stack.url).origin
  const chatSocket = stack.caramelo.apiUrl.replace(/^http/, 'ws')
  const validate = `${stack.returningSdk.apiUrl}/v2/api/widget-access-keys/validate`
  /** The page rendered for the token's user (or its lazy frame's document), and the vendor's own use of it. */
  const allowed = (m: Minted, entry: Entry): boolean => {
    const url = entry.url === undefined ? undefined : new URL(entry.url)
    const page =
      url?.origin === ours && (url.pathname === '/' || (m.vendor === 'returning' && url.pathname === '/_embeds/widget'))
    if (entry.kind === 'response body') return page && entry.resourceType === 'document'
    if (entry.kind === 'dom') return page || (m.vendor === 'returning' && entry.url === 'about:srcdoc')
    if (m.vendor === 'returning') {
      return (
        entry.kind === 'request header' &&
        entry.name === 'authorization' &&
        entry.url === `${stack.returning.url}/api/me` &&
        entry.text === `Bearer ${m.token}`
      )
    }
    // The Widget SDK's own use: the body of its validate request, from the page the token was rendered in.
    if (m.vendor === 'returning-sdk') {
      return entry.kind === 'request body' && entry.url === validate && jsonField(entry.text, 'embedToken') === m.token
    }
    return entry.kind === 'websocket sent' && entry.url?.startsWith(chatSocket) === true
  }
  for (const m of minted) {
    const what = `${m.vendor} token minted for ${m.email}`
    const own = [...scan(haystacks[m.email] ?? [], m.token), ...scan(untagged, m.token)]
    const misplaced = own.filter((f) => !allowed(m, f.entry))
    expect(describeFound(misplaced), `${what}, outside its page and its vendor's traffic`).toEqual([])
    // Delivered in a page and used by the vendor's code: neither recording missed it.
    const used = { returning: 'request header', 'returning-sdk': 'request body', caramelo: 'websocket sent' }[m.vendor]
    const kinds = [...new Set(own.map((f) => f.entry.kind))]
    expect(kinds, `${what}: where it must be (${describeFound(own).join('; ')})`).toEqual(
      expect.arrayContaining(['response body', used]),
    )
    const other = m.email === ALICE.email ? BOB.email : ALICE.email
    expectNowhere(haystacks[other] ?? [], m.token, `${what}, in ${other}'s browser`)
    expectNowhere(logs, m.token, `${what}, in the server log`)
  }
  await Promise.all([alice.context.close(), bob.context.close()])
})

test('invariant 3: query strings, bodies and headers cannot change who the vendors are told about', async ({
  page,
  context,
  stack,
}) => {
  await logIn(page, ALICE.email)
  await expectHome(page, ALICE)
  const from = {
    returning: stack.returning.received.length,
    sdk: stack.returningSdk.received.length,
    caramelo: stack.caramelo.received.length,
  }
  const forged = {
    'x-user-email': BOB.email,
    'x-forwarded-user': BOB.email,
    'x-forwarded-email': BOB.email,
    'x-auth-request-email': BOB.email,
    'x-remote-user': BOB.email,
    'remote-user': BOB.email,
    'x-user-id': BOB.id,
    from: BOB.email,
  }
  const query =
    `email=${encodeURIComponent(BOB.email)}&uid=${BOB.id}&user_id=${BOB.id}&name=Bob` +
    `&data-email=${encodeURIComponent(BOB.email)}&data-user-id=${BOB.id}&userIdentifiers=${BOB.id}`

  // On every request to our server only: the vendors' CORS would refuse unknown headers from the widget.
  const ours = new URL(stack.url).origin
  await context.route(
    (url) => url.origin === ours,
    (route) => route.continue({ headers: { ...route.request().headers(), ...forged } }),
  )
  await page.goto(`/?${query}`)
  await expectHome(page, ALICE)
  // Forged headers change nothing for the lazy frame; parameters the server did not sign are refused.
  const signed = await lazyWidgetSrc(page)
  const lazy = await page.request.get(signed, { headers: forged })
  expect(lazy.status()).toBe(200)
  expect(await lazy.text()).toContain('__WIDGET_INIT__')
  expect((await page.request.get(`${signed}&${query}`, { headers: forged })).status()).toBe(403)
  const post = await page.request.post(`/?${query}`, {
    form: { email: BOB.email, uid: BOB.id, name: 'Bob', 'data-email': BOB.email, 'data-user-id': BOB.id },
    headers: forged,
  })
  expect(post.status()).toBeGreaterThanOrEqual(400)
  // A failed login as bob leaves alice's session as it was.
  const login = await page.request.post('/login', {
    form: { email: BOB.email, password: 'not-the-password' },
    headers: { ...forged, origin: stack.url },
  })
  expect(login.status()).toBe(401)
  await page.reload()
  await expectHome(page, ALICE)

  const signins = stack.returning.received.slice(from.returning).filter((r) => r.path.endsWith('/signin'))
  const auths = stack.caramelo.received.slice(from.caramelo).filter((r) => r.path.endsWith('/intranet-auth'))
  const embedTokens = stack.returningSdk.received.slice(from.sdk).filter((r) => r.path.endsWith('/token'))
  expect(signins.length).toBeGreaterThanOrEqual(5)
  expect(auths.length).toBeGreaterThanOrEqual(2)
  expect(embedTokens.length).toBeGreaterThanOrEqual(2)
  expect([...new Set(signins.map((r) => r.headers['email']))]).toEqual([ALICE.email])
  for (const request of embedTokens) {
    expect(jsonField(request.body, 'userIdentifiers')).toEqual({ 'data-email': ALICE.email, 'data-user-id': ALICE.id })
  }
  for (const auth of auths) {
    expect(JSON.parse(auth.body)).toMatchObject({
      external_customer_id: ALICE.id,
      email: ALICE.email,
      name: ALICE.name,
    })
  }
  for (const request of [...signins, ...auths, ...embedTokens]) {
    expectNowhere(
      [{ kind: 'request body', where: `${request.method} ${request.path}`, text: JSON.stringify(request) }],
      BOB.email,
      'bob',
    )
  }
})

/** A field of a JSON object `text`; `undefined` when `text` is not one. */
function jsonField(text: string, name: string): unknown {
  try {
    return (JSON.parse(text) as Record<string, unknown>)[name]
  } catch {
    return undefined
  }
}

/** The nonce of a Content-Security-Policy header. */
function cspNonce(csp: string | undefined): string | undefined {
  return /'nonce-([^']+)'/.exec(csp ?? '')?.[1]
}

/** The token-page headers of one response (SPEC invariant 4), and its scripts carrying its own nonce. */
async function expectTokenPageHeaders(response: Response | null, what: string): Promise<string> {
  expect(response, what).not.toBeNull()
  const headers = await response!.allHeaders()
  expect(headers['cache-control'], `${what}: Cache-Control`).toBe('no-store')
  expect(headers['vary'] ?? '', `${what}: Vary`).toMatch(/(^|,\s*)cookie(\s*,|$)/i)
  expect(headers['referrer-policy'], `${what}: Referrer-Policy`).toBe('no-referrer')
  const nonce = cspNonce(headers['content-security-policy'])
  expect(nonce, `${what}: CSP nonce`).toMatch(/^[A-Za-z0-9+/=_-]{16,}$/)
  const body = await response!.text()
  const scripts = body.match(/<script\b[^>]*>/gi) ?? []
  const srcdocScripts = body.match(/&lt;script\b.*?&gt;/gi) ?? []
  expect(scripts.length + srcdocScripts.length, `${what}: scripts`).toBeGreaterThan(0)
  expect(
    scripts.filter((tag) => !tag.includes(`nonce="${nonce}"`)),
    `${what}: scripts without its nonce`,
  ).toEqual([])
  expect(
    srcdocScripts.filter((tag) => !tag.includes(`nonce=&quot;${nonce}&quot;`)),
    `${what}: srcdoc scripts without its nonce`,
  ).toEqual([])
  return nonce!
}

test('invariant 4: token pages are not stored, send no Referer, and carry a fresh CSP nonce', async ({
  page,
  stack,
}) => {
  const lazyResponse = () => page.waitForResponse((r) => new URL(r.url()).pathname === '/_embeds/widget')
  await logIn(page, ALICE.email)
  await expectHome(page, ALICE)
  const nonces: string[] = []
  for (let load = 0; load < 2; load++) {
    const lazy = lazyResponse()
    const home = await page.goto('/')
    await expectHome(page, ALICE)
    const nonce = await expectTokenPageHeaders(home, `GET / (load ${load + 1})`)
    nonces.push(nonce)
    // The Widget SDK script: once, with this response's nonce.
    const sdkScript = `<script nonce="${nonce}" src="${stack.returningSdk.sdkUrl}"></script>`
    expect((await home!.text()).split(sdkScript).length - 1, `GET / (load ${load + 1}): ${sdkScript}`).toBe(1)
    const frame = await lazy
    nonces.push(await expectTokenPageHeaders(frame, `GET /_embeds/widget (load ${load + 1})`))
    expect((await frame.allHeaders())['content-security-policy']).toContain("frame-ancestors 'self'")
  }
  expect(new Set(nonces).size, 'every response has its own nonce').toBe(nonces.length)
})

test('invariant 4: after logout, / is the login page and Back shows no page with a token, back-forward cache on', async ({
  playwright,
  launchOptions,
  stack,
}) => {
  // Playwright turns the back-forward cache off; a user's browser has it on.
  const browser = await playwright.chromium.launch({
    ...launchOptions,
    ignoreDefaultArgs: ['--disable-back-forward-cache'],
  })
  try {
    const mark = mintMark(stack)
    const { page } = await newSession(browser, stack, 'alice')
    await logIn(page, ALICE.email)
    await expectHome(page, ALICE)
    await logOut(page)

    // A page restored from the back-forward cache fires no load event: wait for the commit only.
    await page.goBack({ waitUntil: 'commit' })
    await expect(page).toHaveURL(/\/login$/)
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Log in')
    await expect(page.locator('iframe[srcdoc], iframe.eta-embeds-widget, [embed-token]')).toHaveCount(0)
    expect(await inlineScripts(page, 'carameloaiChatbot')).toBe(0)
    const tokens = mark.since().map((m) => m.token)
    expect(tokens.length).toBeGreaterThan(0)
    const dom = await Promise.all(
      page.frames().map(async (frame): Promise<Entry> => ({
        kind: 'dom',
        where: `DOM of ${frame.url()}`,
        text: await frame.content(),
      })),
    )
    for (const token of tokens) expectNowhere(dom, token, 'a token of the logged-out page')

    await page.goto('/')
    await expect(page).toHaveURL(/\/login$/)
  } finally {
    await browser.close()
  }
})
