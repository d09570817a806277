import { MockAgent } from 'undici'
import type { MockInterceptor } from 'undici/types/mock-interceptor.js'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import type { VendorErrorCode } from '../../errors.ts'
import type { EmbedsOptions } from '../../runtime/options.ts'
import { renderPage, type TemplateMap } from '../../runtime/render/render.ts'
import {
  compileTemplates,
  recordingLogger,
  TEST_NONCE,
  TEST_USER,
  TEST_VENDORS,
  testRuntime,
  mockAgentPerTest,
} from '../../runtime/test-helpers.ts'
import type { EmbedsUser } from '../define.ts'
import { caramelo } from './index.ts'
import { preferredLanguage } from './language.ts'

const { apiUrl: API, sdkUrl: SDK, projectId: PROJECT, secretToken: SECRET } = TEST_VENDORS.caramelo
const AUTH = { path: `/api/chatbox/project/${PROJECT}/intranet-auth`, method: 'POST' }
const TOKEN = 'rtat_0123456789abcdef'
const ANSWER = { real_time_access_token: TOKEN, customer_id: 'c-1', chat: {}, chatbot: {} }
const FALLBACK = '<p>chat unavailable</p>'

let agent: MockAgent
mockAgentPerTest((a) => (agent = a))
let logger: ReturnType<typeof recordingLogger>
let templates: TemplateMap

beforeEach(async () => {
  logger = recordingLogger()
  templates = await compileTemplates({
    home: '<body><<caramelo fallback="partials/chat-fallback">></body>',
    'partials/chat-fallback': FALLBACK,
  })
})

interface Page {
  user: EmbedsUser | undefined
  acceptLanguage?: string
  options?: Partial<EmbedsOptions>
}

function render({ user, acceptLanguage, options }: Page): Promise<string> {
  const runtime = testRuntime({
    vendors: [caramelo(TEST_VENDORS.caramelo)],
    dispatcher: agent,
    logger,
    timeoutMs: 2000,
    ...options,
  })
  return renderPage(runtime, templates, 'home', {}, { user, nonce: TEST_NONCE, acceptLanguage })
}

/** Answers the auth call and keeps the JSON body Caramelo received. */
function interceptAuth(): { bodies: unknown[]; headers: unknown[] } {
  const seen = { bodies: [] as unknown[], headers: [] as unknown[] }
  agent
    .get(API)
    .intercept(AUTH)
    .reply((opts: MockInterceptor.MockResponseCallbackOptions) => {
      seen.bodies.push(JSON.parse(opts.body as string))
      seen.headers.push(opts.headers)
      return { statusCode: 200, data: ANSWER }
    })
  return seen
}

function scripts(token: string): string {
  return (
    `<script nonce="${TEST_NONCE}">var carameloaiChatbot = {"secure_connection_token":"${token}","project_id":"${PROJECT}"};</script>` +
    `<script nonce="${TEST_NONCE}" src="${SDK}"></script>`
  )
}

describe('<<caramelo>>: the authenticated flow', () => {
  it('renders the config script and the authenticated SDK, both with the nonce', async () => {
    interceptAuth()

    await expect(render({ user: TEST_USER })).resolves.toBe(`<body>${scripts(TOKEN)}</body>`)
    expect(logger.lines).toEqual([])
  })

  it('sends the secret, the immutable id, the name, the email and the language as JSON', async () => {
    const seen = interceptAuth()

    await render({ user: TEST_USER })

    expect(seen.bodies).toEqual([
      {
        secret_token: SECRET,
        external_customer_id: TEST_USER.id,
        name: TEST_USER.name,
        email: TEST_USER.email,
        lang: 'pt-BR',
      },
    ])
    expect(seen.headers).toEqual([{ 'content-type': 'application/json' }])
  })

  it('asks for a new token on every render (never cached)', async () => {
    interceptAuth()
    interceptAuth()

    await render({ user: TEST_USER })
    await render({ user: TEST_USER })
    // Both interceptors used: assertNoPendingInterceptors() in afterEach proves the second call.
  })

  it.each([
    [
      'the user has no language: the best Accept-Language match',
      { name: 'Bob', id: 'u-2', email: 'bob@example.com' },
      'fr-CA;q=0.5, de, en;q=0.8',
      'de',
    ],
    ['the user language is malformed: Accept-Language', { ...TEST_USER, lang: 'not a tag' }, 'es', 'es'],
    ['neither: en', { name: 'Bob', id: 'u-2', email: 'bob@example.com' }, undefined, 'en'],
  ])('picks lang when %s', async (_name, user, acceptLanguage, lang) => {
    const seen = interceptAuth()

    await render({ user, acceptLanguage })

    expect(seen.bodies[0]).toMatchObject({ lang })
  })

  it('lets the directive choose the project and the language, statically or per render', async () => {
    templates = await compileTemplates({ home: '<<caramelo project={it.project} lang="es">>' })
    const seen: unknown[] = []
    agent
      .get(API)
      .intercept({ path: '/api/chatbox/project/other-9/intranet-auth', method: 'POST' })
      .reply((opts) => {
        seen.push(JSON.parse(opts.body as string))
        return { statusCode: 200, data: ANSWER }
      })

    const runtime = testRuntime({ vendors: [caramelo(TEST_VENDORS.caramelo)], dispatcher: agent, logger })
    const html = await renderPage(
      runtime,
      templates,
      'home',
      { project: 'other-9' },
      {
        user: TEST_USER,
        nonce: TEST_NONCE,
        acceptLanguage: 'de',
      },
    )

    expect(seen).toEqual([expect.objectContaining({ lang: 'es' })])
    expect(html).toContain('"project_id":"other-9"')
  })

  it('renders the fallback and calls no vendor for an anonymous request', async () => {
    const dispatch = vi.spyOn(agent, 'dispatch')

    await expect(render({ user: undefined })).resolves.toBe(`<body>${FALLBACK}</body>`)

    expect(dispatch).not.toHaveBeenCalled()
    expect(logger.lines).toEqual([])
  })

  it('sends an email with CR/LF only inside the JSON body, where it is inert', async () => {
    const seen = interceptAuth()
    const user = { ...TEST_USER, email: 'alice@example.com\r\nx: 1' }

    await render({ user })

    expect(seen.bodies[0]).toMatchObject({ email: 'alice@example.com\r\nx: 1' })
    expect(seen.headers).toEqual([{ 'content-type': 'application/json' }])
  })
})

describe('<<caramelo>>: hostile tokens', () => {
  it('encodes a token containing </script> so it cannot leave the script element', async () => {
    const hostile = '</script><script>alert(1)</script>'
    agent
      .get(API)
      .intercept(AUTH)
      .reply(200, { ...ANSWER, real_time_access_token: hostile })

    const html = await render({ user: TEST_USER })

    expect(html).toBe(
      `<body>${scripts('\\u003c/script\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e')}</body>`,
    )
    expect(html.match(/<script/g)).toHaveLength(2)
  })

  it.each([
    ['U+2028', `abcdefgh\u2028alert(1)`],
    ['a quote and a space', 'abcdefgh"; alert(1); "'],
    ['a line break', 'abcdefgh\nalert(1)'],
    ['too short', 'abc'],
  ])('refuses a token with %s (ERR_VENDOR_BODY)', async (_name, token) => {
    agent
      .get(API)
      .intercept(AUTH)
      .reply(200, { ...ANSWER, real_time_access_token: token })

    await expect(render({ user: TEST_USER })).resolves.toBe(`<body>${FALLBACK}</body>`)

    expect(logger.lines.map((l) => l.fields['cause'])).toEqual(['ERR_VENDOR_BODY'])
    expect(JSON.stringify(logger.lines)).not.toContain('alert')
  })
})

describe('<<caramelo>>: every vendor failure yields the fallback and one clean log line', () => {
  const cases: {
    name: string
    setup: () => void
    cause: VendorErrorCode
    status?: number
    options?: Partial<EmbedsOptions>
  }[] = [
    {
      name: 'status 500',
      setup: () => void agent.get(API).intercept(AUTH).reply(500, `{"error":"bad secret ${SECRET}"}`),
      cause: 'ERR_VENDOR_STATUS',
      status: 500,
    },
    {
      name: 'status 401',
      setup: () => void agent.get(API).intercept(AUTH).reply(401, ''),
      cause: 'ERR_VENDOR_STATUS',
      status: 401,
    },
    {
      name: 'a body that is not JSON',
      setup: () => void agent.get(API).intercept(AUTH).reply(200, `token=${TOKEN}`),
      cause: 'ERR_VENDOR_BODY',
      status: 200,
    },
    {
      name: "JSON without 'real_time_access_token'",
      setup: () => void agent.get(API).intercept(AUTH).reply(200, { token: TOKEN }),
      cause: 'ERR_VENDOR_BODY',
      status: 200,
    },
    {
      name: 'JSON null',
      setup: () => void agent.get(API).intercept(AUTH).reply(200, 'null'),
      cause: 'ERR_VENDOR_BODY',
      status: 200,
    },
    {
      name: 'a body over maxResponseBytes',
      setup: () =>
        void agent
          .get(API)
          .intercept(AUTH)
          .reply(200, { ...ANSWER, pad: 'x'.repeat(4096) }),
      cause: 'ERR_VENDOR_BODY',
      status: 200,
      options: { maxResponseBytes: 1024 },
    },
    {
      name: 'no answer before the deadline',
      setup: () => void agent.get(API).intercept(AUTH).reply(200, ANSWER).delay(60_000),
      cause: 'ERR_VENDOR_TIMEOUT',
      options: { timeoutMs: 50 },
    },
    {
      name: 'a network error',
      setup: () =>
        void agent
          .get(API)
          .intercept(AUTH)
          .replyWithError(new Error(`socket hang up ${SECRET}`)),
      cause: 'ERR_VENDOR_NETWORK',
    },
  ]

  it.each(cases)('$name → $cause', async ({ setup, cause, status, options }) => {
    setup()

    await expect(render({ user: TEST_USER, options })).resolves.toBe(`<body>${FALLBACK}</body>`)

    expect(logger.lines).toHaveLength(1)
    const [line] = logger.lines
    expect(line?.level).toBe('warn')
    expect(line?.message).toBe('vendor call failed; rendered the fallback')
    expect(line?.fields).toMatchObject({ vendor: 'caramelo', directive: 'caramelo', cause, status })
    expect(typeof line?.fields['latencyMs']).toBe('number')
    const text = JSON.stringify(line)
    for (const secret of [SECRET, TEST_VENDORS.returning.apiKey, TOKEN, TEST_USER.email]) {
      expect(text).not.toContain(secret)
    }
  })
})

describe('preferredLanguage', () => {
  it.each([
    ['pt-BR;q=0.9, en;q=0.8', 'pt-BR'],
    ['en;q=0.8, pt-BR;q=0.9', 'pt-BR'],
    ['fr, en;q=0.9', 'fr'],
    ['de;q=0.5, fr;q=0.5', 'de'],
    ['*, es;q=0.1', 'es'],
    ['en;q=0, it', 'it'],
    ['en;q=0', undefined],
    ['x1-bad, <script>', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%j → %j', (header, expected) => {
    expect(preferredLanguage(header)).toBe(expected)
  })
})
