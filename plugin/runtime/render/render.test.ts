import { MockAgent } from 'undici'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { RenderError } from '../../errors.ts'
import type { EmbedsUser } from '../../vendors/define.ts'
import { returningProxy } from '../../vendors/returning/proxy.ts'
import type { EmbedsOptions } from '../options.ts'
import {
  compileTemplates,
  decodeAttribute,
  deferred,
  recordingLogger,
  replyWith,
  TEST_CONFIGURED_VENDORS,
  TEST_NONCE,
  TEST_USER,
  TEST_VENDORS,
  testRuntime,
} from '../test-helpers.ts'
import { renderPage, renderPageChunks, type TemplateMap } from './render.ts'

const { baseUrl: WIDGETS, communityId: COMMUNITY } = TEST_VENDORS.returning
const { apiUrl: CARAMELO, projectId: PROJECT } = TEST_VENDORS.caramelo
const SIGNIN = { path: `/widget/${COMMUNITY}/signin`, method: 'POST' }
const AUTH = { path: `/api/chatbox/project/${PROJECT}/intranet-auth`, method: 'POST' }
const HTML = { headers: { 'content-type': 'text/html' } }
const WIDGET_PAGE = '<html><head></head><body><script>init({ token: "" })</script></body></html>'
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.YWxpY2Utc2lnbmF0dXJl'
const CHAT_TOKEN = 'rtat_alice_0123456789'

let agent: MockAgent
let logger: ReturnType<typeof recordingLogger>

beforeEach(() => {
  agent = new MockAgent()
  agent.disableNetConnect()
  logger = recordingLogger()
})

afterEach(async () => {
  try {
    agent.assertNoPendingInterceptors()
  } finally {
    await agent.close()
  }
})

function page(user: EmbedsUser | undefined) {
  return { user, nonce: TEST_NONCE, acceptLanguage: undefined }
}

function render(
  templates: TemplateMap,
  data: object,
  user: EmbedsUser | undefined,
  options: Partial<EmbedsOptions> = {},
): Promise<string> {
  const runtime = testRuntime({
    vendors: TEST_CONFIGURED_VENDORS,
    dispatcher: agent,
    logger,
    timeoutMs: 2000,
    ...options,
  })
  return renderPage(runtime, templates, 'home', data, { user, nonce: TEST_NONCE, acceptLanguage: undefined })
}

/** Makes a mocked answer wait until `count` requests have arrived: calls made one after another never get there. */
function gate(count: number) {
  const arrived: string[] = []
  let open: () => void = () => undefined
  const allArrived = new Promise<void>((resolve) => (open = resolve))
  const answer = (name: string, body: string) =>
    replyWith(() => {
      arrived.push(name)
      if (arrived.length === count) open()
      return allArrived.then(() => body)
    })
  return { arrived, answer }
}

describe('renderPage: directives resolve together', () => {
  it("has all of a page's vendor calls in flight before any answers", async () => {
    const templates = await compileTemplates({ home: '<main><<widget>></main>\n<<caramelo>>' })
    const { arrived, answer } = gate(3)
    agent
      .get(WIDGETS)
      .intercept(SIGNIN)
      .reply(200, answer('signin', JSON.stringify({ token: JWT })))
    agent
      .get(WIDGETS)
      .intercept({ path: '/store/w1?color=light', method: 'GET' })
      .reply(200, answer('page', WIDGET_PAGE), HTML)
    agent
      .get(CARAMELO)
      .intercept(AUTH)
      .reply(200, answer('caramelo', JSON.stringify({ real_time_access_token: CHAT_TOKEN })))

    const html = await render(templates, {}, TEST_USER)

    expect(arrived.sort()).toEqual(['caramelo', 'page', 'signin'])
    expect(html).toMatch(/^<main><iframe [^]*<\/iframe><\/main>\n<script nonce="[^"]+">var carameloaiChatbot = /)
    expect(logger.lines).toEqual([])
  })

  it('resolves directives reached in loops, partials and layouts, each in its place', async () => {
    const templates = await compileTemplates({
      home: "<% layout('layout') %><% for (const id of it.ids) { %><section><<widget id={id}>></section><% } %>",
      layout: "<body><%~ it.body %><%~ include('partials/chat') %></body>",
      'partials/chat': '<aside><<caramelo>></aside>',
    })
    for (const id of ['a1', 'b2']) {
      agent.get(WIDGETS).intercept(SIGNIN).reply(200, { token: JWT })
      agent
        .get(WIDGETS)
        .intercept({ path: `/store/${id}?color=light`, method: 'GET' })
        .reply(200, WIDGET_PAGE.replace('<body>', `<body data-id="${id}">`), HTML)
    }
    agent.get(CARAMELO).intercept(AUTH).reply(200, { real_time_access_token: CHAT_TOKEN })

    const html = await render(templates, { ids: ['a1', 'b2'] }, TEST_USER)

    const sections = [...html.matchAll(/<section><iframe [^>]*srcdoc="([^"]*)"><\/iframe><\/section>/g)]
    expect(sections.map((m) => /data-id="(\w+)"/.exec(decodeAttribute(m[1] ?? ''))?.[1])).toEqual(['a1', 'b2'])
    expect(html).toMatch(/^<body><section>/)
    expect(html).toMatch(
      /<aside><script nonce="[^"]+">var carameloaiChatbot = [^<]*<\/script><script [^>]*><\/script><\/aside><\/body>$/,
    )
    expect(html).not.toContain('\u0000')
  })

  it("puts each user's tokens in that user's page only", async () => {
    const templates = await compileTemplates({ home: '<<widget>><<caramelo>>' })
    const bob = { id: 'user-7', email: 'bob@example.com', name: 'Bob' }
    const bobJwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.Ym9iLXNpZ25hdHVyZQ'
    for (const [user, jwt, chat] of [
      [TEST_USER, JWT, CHAT_TOKEN],
      [bob, bobJwt, 'rtat_bob_9876543210'],
    ] as const) {
      agent
        .get(WIDGETS)
        .intercept({ ...SIGNIN, headers: { email: user.email } })
        .reply(200, { token: jwt })
      agent.get(WIDGETS).intercept({ path: '/store/w1?color=light', method: 'GET' }).reply(200, WIDGET_PAGE, HTML)
      agent
        .get(CARAMELO)
        .intercept({ ...AUTH, body: (body) => (JSON.parse(body) as { email: string }).email === user.email })
        .reply(200, { real_time_access_token: chat })
    }

    const alicePage = await render(templates, {}, TEST_USER)
    const bobPage = await render(templates, {}, bob)

    expect(alicePage).toContain(JWT)
    expect(alicePage).toContain(CHAT_TOKEN)
    expect(bobPage).toContain(bobJwt)
    expect(bobPage).toContain('rtat_bob_9876543210')
    expect(bobPage).not.toContain(JWT)
    expect(bobPage).not.toContain(CHAT_TOKEN)
    expect(alicePage).not.toContain(bobJwt)
  })
})

describe('renderPage: anonymous requests', () => {
  it('renders every fallback (partial or nothing) and calls no vendor', async () => {
    const templates = await compileTemplates({
      home: '[<<widget fallback="partials/w">>][<<widget>>][<<caramelo fallback="partials/c">>]',
      'partials/w': 'W:<%= it.greeting %>',
      'partials/c': 'C',
    })
    const dispatch = vi.spyOn(agent, 'dispatch')

    await expect(render(templates, { greeting: 'hi' }, undefined)).resolves.toBe('[W:hi][][C]')

    expect(dispatch).not.toHaveBeenCalled()
    expect(logger.lines).toEqual([])
  })
})

describe('renderPage: template names', () => {
  it('resolves ./relative includes, layouts and fallbacks from the including template', async () => {
    const templates = await compileTemplates({
      home: "<% layout('./shells/page') %>[<%~ include('./parts/a') %>][<<widget fallback=\"./parts/w\">>]",
      'shells/page': "<main><%~ it.body %><%~ include('../parts/a.eta') %></main>",
      'parts/a': 'A',
      'parts/w': 'W',
    })
    await expect(render(templates, {}, undefined)).resolves.toBe('<main>[A][W]A</main>')
  })

  it('says how to include an async template from a sync one', async () => {
    const templates = await compileTemplates({
      home: "<%~ include('slow') %>",
      slow: '<%= await Promise.resolve(1) %>',
    })
    await expect(render(templates, {}, undefined)).rejects.toMatchObject({
      code: 'ERR_TEMPLATE_ASYNC',
      message: expect.stringContaining("await includeAsync('slow')"),
    })
  })
})

describe('renderPage: errors in the page itself', () => {
  it('validates {expression} values at render time, naming the template location', async () => {
    const templates = await compileTemplates({ home: '<p>\n  <<widget id={it.bad}>>' })

    const rendering = render(templates, { bad: '../x' }, undefined)

    await expect(rendering).rejects.toThrow(RenderError)
    await expect(rendering).rejects.toThrow(
      `bad value "../x" for 'id' on <<widget>> at templates/home.eta:2:3 (expected letters, digits, _ or - (at most 64))`,
    )
    await expect(rendering).rejects.toMatchObject({ code: 'ERR_ATTRIBUTE_VALUE' })
  })

  it.each([
    ['a number', { bad: 42 }, 'expected a string, got number'],
    ['undefined', {}, 'expected a string, got undefined'],
    ['null', { bad: null }, 'expected a string, got null'],
    ['a color outside the list', { bad: 'red' }, 'expected one of light, dark'],
  ])('refuses %s as a dynamic value before any vendor call', async (_name, data, reason) => {
    const templates = await compileTemplates({ home: '<<widget color={it.bad}>>' })
    const dispatch = vi.spyOn(agent, 'dispatch')

    const rendering = render(templates, data, TEST_USER)

    await expect(rendering).rejects.toThrow(reason)
    await expect(rendering).rejects.toMatchObject({ code: 'ERR_ATTRIBUTE_VALUE' })
    expect(dispatch).not.toHaveBeenCalled()
  })

  it('refuses a second <<caramelo>> reached through a partial', async () => {
    const templates = await compileTemplates({
      home: "<<caramelo>>\n<%~ include('partials/chat') %>",
      'partials/chat': '<div>\n <<caramelo>></div>',
    })

    const rendering = render(templates, {}, undefined)

    await expect(rendering).rejects.toThrow(RenderError)
    await expect(rendering).rejects.toMatchObject({ code: 'ERR_DIRECTIVE_DUPLICATE' })
    await expect(rendering).rejects.toThrow('second <<caramelo>> on one page at templates/partials/chat.eta:2:2')
  })

  it('refuses an unknown template', async () => {
    const templates = await compileTemplates({ other: 'x' })

    const rendering = render(templates, {}, undefined)

    await expect(rendering).rejects.toThrow("no template 'home' (known: other)")
    await expect(rendering).rejects.toMatchObject({ code: 'ERR_TEMPLATE_NOT_FOUND' })
  })

  it('refuses a directive whose vendor is not configured', async () => {
    const templates = await compileTemplates({ home: '<<caramelo>>' })
    const rendering = render(templates, {}, TEST_USER, { vendors: [returningProxy(TEST_VENDORS.returning)] })

    await expect(rendering).rejects.toThrow(
      '<<caramelo>> is used at templates/home.eta:1:1 but Caramelo AI is not configured',
    )
    await expect(rendering).rejects.toMatchObject({ code: 'ERR_CONFIG' })
  })

  it('refuses a widget without an id when WIDGET_ID is not set', async () => {
    const templates = await compileTemplates({ home: '<<widget>>' })
    const rendering = render(templates, {}, TEST_USER, {
      vendors: [returningProxy({ ...TEST_VENDORS.returning, widgetId: undefined })],
    })

    await expect(rendering).rejects.toThrow("<<widget>> has no 'id' and WIDGET_ID is not set")
    await expect(rendering).rejects.toMatchObject({ code: 'ERR_CONFIG' })
  })

  it('rejects with the template error and cancels the vendor calls already started', async () => {
    const templates = await compileTemplates({ home: "<<caramelo>><% throw new Error('template bug') %>" })
    agent.get(CARAMELO).intercept(AUTH).reply(200, { real_time_access_token: CHAT_TOKEN }).delay(60_000)
    const dispatch = vi.spyOn(agent, 'dispatch')

    await expect(render(templates, {}, TEST_USER)).rejects.toThrow('template bug')

    expect(dispatch).toHaveBeenCalledTimes(1)
    const [opts] = dispatch.mock.calls[0] ?? []
    expect((opts as { signal?: AbortSignal } | undefined)?.signal?.aborted).toBe(true)
  })
})

describe('renderPageChunks: streaming', () => {
  it('hands out the text before the first directive while its vendor has not answered yet', async () => {
    const templates = await compileTemplates({ home: '<h1>Hi</h1><<caramelo>><p>end</p>' })
    const vendor = deferred()
    agent
      .get(CARAMELO)
      .intercept(AUTH)
      .reply(
        200,
        replyWith(() => vendor.promise.then(() => JSON.stringify({ real_time_access_token: CHAT_TOKEN }))),
      )
    const runtime = testRuntime({ vendors: TEST_CONFIGURED_VENDORS, dispatcher: agent, logger, timeoutMs: 2000 })
    const chunks = await renderPageChunks(runtime, templates, 'home', {}, page(TEST_USER))

    // If the first chunk waited for the vendor, this would hang: the vendor answers only below.
    await expect(chunks.next()).resolves.toEqual({ done: false, value: '<h1>Hi</h1>' })
    vendor.resolve()
    const rest: string[] = []
    for await (const chunk of chunks) rest.push(chunk)
    expect(rest[0]).toContain(CHAT_TOKEN)
    expect(rest.at(-1)).toBe('<p>end</p>')
  })
})

describe('renderPage: prefetch', () => {
  it("starts an unconditional directive's vendor call before the template reaches it", async () => {
    const templates = await compileTemplates({ home: '<% await it.slowData %><<caramelo>>' })
    const arrived = deferred()
    const slowData = deferred()
    agent
      .get(CARAMELO)
      .intercept(AUTH)
      .reply(
        200,
        replyWith(() => {
          arrived.resolve()
          return JSON.stringify({ real_time_access_token: CHAT_TOKEN })
        }),
      )

    const rendering = render(templates, { slowData: slowData.promise }, TEST_USER)
    // The template is still awaiting its own data, yet the vendor call has arrived: it started early.
    await arrived.promise
    slowData.resolve()
    await expect(rendering).resolves.toContain(CHAT_TOKEN)
  })

  it('does not prefetch a directive inside a block, nor one with an {expression}', async () => {
    const templates = await compileTemplates({
      home: '<% if (it.show) { %><<caramelo>><% } %><<widget id={it.id}>>',
    })
    const dispatch = vi.spyOn(agent, 'dispatch')
    await expect(render(templates, { show: false, id: 'w1' }, undefined)).resolves.toBe('')
    expect(dispatch).not.toHaveBeenCalled()
  })

  it('quietly aborts a prefetched call whose directive is never reached', async () => {
    const templates = await compileTemplates({
      // Braceless `if`: the heuristic counts the include as unconditional.
      home: "<% if (it.show) include('chat') %>done",
      chat: '<<caramelo>>',
    })
    const arrived = deferred()
    agent
      .get(CARAMELO)
      .intercept(AUTH)
      .reply(
        200,
        replyWith(() => {
          arrived.resolve()
          return new Promise(() => undefined)
        }),
      )

    await expect(render(templates, { show: false }, TEST_USER)).resolves.toBe('done')
    await arrived.promise
    expect(logger.lines).toEqual([])
  })
})

describe('renderPage: lazy widgets', () => {
  it('renders an iframe pointing at the lazy route, calling no vendor while rendering the page', async () => {
    const templates = await compileTemplates({
      home: '<<widget loading="lazy" type="social" id="s1" color="dark" title="Feed" fallback="./none">>',
      none: '',
    })
    const dispatch = vi.spyOn(agent, 'dispatch')
    const html = await render(templates, {}, TEST_USER)
    expect(html).toMatch(
      new RegExp(
        '^<iframe class="eta-embeds-widget" title="Feed" sandbox="allow-scripts allow-forms allow-popups"' +
          ' referrerpolicy="no-referrer" loading="lazy"' +
          ' src="/_embeds/widget\\?vendor=returning-proxy&amp;color=dark&amp;fallback=none&amp;id=s1&amp;title=Feed' +
          '&amp;type=social&amp;sig=[A-Za-z0-9_-]{43}"></iframe>$',
      ),
    )
    expect(dispatch).not.toHaveBeenCalled()
  })

  it('signs the flow by its adapter, leaving flow and loading out of the URL', async () => {
    const templates = await compileTemplates({ home: '<<widget flow="proxy" loading="lazy" id="s1">>' })
    const html = await render(templates, {}, TEST_USER)
    const src = decodeAttribute(/ src="([^"]*)"/.exec(html)?.[1] ?? '')
    expect(src).toMatch(/^\/_embeds\/widget\?vendor=returning-proxy&id=s1&sig=[A-Za-z0-9_-]{43}$/)
  })
})
