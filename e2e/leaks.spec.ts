/**
 * The leak suite (issue 5): every SPEC invariant proved in a real browser,
 * with canary secrets, in development and in production. Each scenario
 * records what the browser sends, receives and keeps and scans it, raw and
 * encoded, with the testing kit users run against their own apps
 * (`vite-plugin-eta-embeds/testing`, issue 14) — its recorder, its scan and
 * its four checks — plus the demo's own positive controls: each scenario also
 * proves that its recording is not empty. Invariants 5 and 6 need stacks of
 * their own: `leaks-failing-vendors.spec.ts` and `leaks-hostile-vendors.spec.ts`.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  expectTokenPage,
  fileEntries,
  findIdentityLeaks,
  findSecretLeaks,
  FORGED_USER,
  logEntries,
  scan,
  type Entry,
} from '../testing/index.ts'
import { expect, lazyWidgetSrc, logIn, test } from './fixtures.ts'
import {
  ALICE,
  BOB,
  embedsRun,
  expectHome,
  expectNoLeaks,
  expectNowhere,
  inlineScripts,
  kindsHolding,
  logOut,
  mintMark,
  newSession,
  vendorWitness,
} from './leak-helpers.ts'
import { CANARIES, CANARY_SECRETS } from './stack.ts'

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist')

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
  const run = embedsRun(browser, stack, mode === 'prod' ? { dist: DIST } : {})
  const { recorder, page } = await run.session(ALICE, { label: 'alice' })

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

  // Every canary, in everything the browser, the vendors and the server saw since the stack started.
  expectNoLeaks(findSecretLeaks(CANARY_SECRETS, everything))
  // And the kit's four checks over this test (secrets, tokens, identity, token pages), as a user runs them.
  expectNoLeaks(await run.findLeaks())
  await run.close()
})

test('invariant 2: a token appears only in its own user’s page and in its vendor’s own traffic', async ({
  browser,
  stack,
}) => {
  const mark = mintMark(stack)
  const run = embedsRun(browser, stack)
  const alice = await run.session(ALICE, { label: 'alice' })
  const bob = await run.session(BOB, { label: 'bob' })

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

  const minted = mark.tokens()
  for (const user of [ALICE, BOB]) {
    for (const vendor of ['returning-proxy', 'returning-sdk', 'caramelo']) {
      const count = minted.filter((m) => m.user.email === user.email && m.vendor === vendor).length
      expect(count, `${vendor} tokens minted for ${user.email}`).toBeGreaterThanOrEqual(3)
    }
  }
  // The kit's checks: each token only in the home page (or, for the proxy flow, its lazy frame's document
  // and its srcdoc frame) of the session of its user, and in its vendor's own use — the widget's
  // `Authorization: Bearer` to the vendor's /api/me, the SDK's validate body, the chat's socket frames —
  // seen by the recorder or by the stubs (requests of frames Playwright did not attach to carry no
  // session: only their vendor's use is accepted there); never in the other user's browser, a URL, a
  // header, storage or a log line. Each token must also have been seen delivered and used: neither
  // recording missed it.
  expectNoLeaks(await run.findLeaks({ requireUse: true }))
  await run.close()
})

test('invariant 3: query strings, bodies and headers cannot change who the vendors are told about', async ({
  page,
  context,
  stack,
}) => {
  await logIn(page, ALICE.email)
  await expectHome(page, ALICE)
  const mark = mintMark(stack)
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
  // Nothing of bob reached any vendor in anything the server sent it (widget pages included), in any form.
  expectNoLeaks(
    findIdentityLeaks({
      tokens: [],
      sessions: [],
      vendorRequests: mark.serverRequests(),
      forged: [{ email: BOB.email, id: BOB.id }],
    }),
  )
})

test('invariant 3, as the testing kit probes it: a forged identity in query, form and headers reaches no vendor', async ({
  browser,
  stack,
}) => {
  const run = embedsRun(browser, stack)
  const { page, recorder } = await run.session(ALICE, { label: 'alice' })
  await logIn(page, ALICE.email)
  await expectHome(page, ALICE)
  const forgedOnto = await run.probeIdentity(page)
  await expectHome(page, ALICE)
  // The probe really sent the forged identity to our server, each way it claims to: in the query and the
  // form (the recorder saw them), and in headers (the probe's route added them to both requests).
  expect(kindsHolding(await recorder.finish(), FORGED_USER.email)).toEqual(['request body', 'request url'])
  const probed = new URL('/', stack.url).href
  expect(forgedOnto.filter((r) => r.startsWith(`POST ${probed}?`) || r.startsWith(`GET ${probed}?`))).toHaveLength(2)
  expectNoLeaks(await run.findLeaks())
  await run.close()
})

/** A field of a JSON object `text`; `undefined` when `text` is not one. */
function jsonField(text: string, name: string): unknown {
  try {
    return (JSON.parse(text) as Record<string, unknown>)[name]
  } catch {
    return undefined
  }
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
    const report = await expectTokenPage(home, `GET / (load ${load + 1})`)
    expect(report.scripts, `GET / (load ${load + 1}): scripts`).toBeGreaterThan(0)
    const nonce = report.nonce
    nonces.push(nonce ?? '')
    // The Widget SDK script: once, with this response's nonce.
    const sdkScript = `<script nonce="${nonce}" src="${stack.returningSdk.sdkUrl}"></script>`
    expect((await home!.text()).split(sdkScript).length - 1, `GET / (load ${load + 1}): ${sdkScript}`).toBe(1)
    const frame = await lazy
    const frameReport = await expectTokenPage(frame, `GET /_embeds/widget (load ${load + 1})`)
    expect(frameReport.scripts, `GET /_embeds/widget (load ${load + 1}): scripts`).toBeGreaterThan(0)
    nonces.push(frameReport.nonce ?? '')
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
    const tokens = mark.tokens().map((m) => m.token)
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
