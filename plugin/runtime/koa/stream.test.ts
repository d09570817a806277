/**
 * The middleware's `stream` option through Koa, as a browser receives the
 * page: out of order (the default), in document order, or whole. The vendor
 * is a MockAgent interceptor that answers when the test says so.
 */
import type { AddressInfo } from 'node:net'
import Koa from 'koa'
import { Agent, request, type MockAgent } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  compileTemplates,
  deferred,
  mockAgentPerTest,
  recordingLogger,
  replyWith,
  TEST_CONFIGURED_VENDORS,
  TEST_USER,
  TEST_VENDORS,
} from '../test-helpers.ts'
import { embeds, type EmbedsMiddleware, type EmbedsMiddlewareOptions } from './middleware.ts'

const { apiUrl: CARAMELO, projectId: PROJECT } = TEST_VENDORS.caramelo
const AUTH = { path: `/api/chatbox/project/${PROJECT}/intranet-auth`, method: 'POST' }
const CHAT_TOKEN = 'rtat_alice_0123456789'
const HOME = '<body><h1>Hi</h1><<caramelo>><footer>F</footer></body>'

let vendors: MockAgent
mockAgentPerTest((a) => (vendors = a))
let client: Agent
let server: ReturnType<Koa['listen']> | undefined
let middleware: EmbedsMiddleware | undefined
let vendor: ReturnType<typeof deferred<void>>

beforeEach(() => {
  client = new Agent()
  vendor = deferred()
})

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  server = undefined
  await middleware?.close()
  await client.close()
})

/** An app rendering `HOME` for Alice with `stream`; its one vendor call answers once `vendor` resolves. */
async function app(stream: EmbedsMiddlewareOptions['stream'] | 'unset'): Promise<string> {
  vendors
    .get(CARAMELO)
    .intercept(AUTH)
    .reply(
      200,
      replyWith(() => vendor.promise.then(() => JSON.stringify({ real_time_access_token: CHAT_TOKEN }))),
    )
  const templates = await compileTemplates({ home: HOME })
  const koa = new Koa()
  middleware = embeds({
    vendors: TEST_CONFIGURED_VENDORS,
    dispatcher: vendors,
    logger: recordingLogger(),
    templates: () => Promise.resolve(templates),
    user: () => TEST_USER,
    ...(stream === 'unset' ? {} : { stream }),
  })
  koa.use(middleware)
  koa.use((ctx) => ctx.render('home'))
  server = koa.listen(0, '127.0.0.1')
  await new Promise((resolve) => server?.once('listening', resolve))
  return `http://127.0.0.1:${(server?.address() as AddressInfo).port}/`
}

describe('options.stream', () => {
  it.each(['unset', 'out-of-order'] as const)(
    '%s: the footer arrives while the vendor has not answered, headers already fixed',
    async (stream) => {
      const res = await request(await app(stream), { dispatcher: client })
      expect(res.statusCode).toBe(200)
      expect(res.headers['content-security-policy']).toMatch(/script-src 'nonce-[^']+' 'strict-dynamic'/)
      expect(res.headers['content-length']).toBeUndefined()

      let received = ''
      for await (const chunk of res.body) {
        received += String(chunk)
        // Released only once the footer is here: a page that waited for the vendor would never get that far.
        if (received.includes('<footer>F</footer>')) vendor.resolve()
      }
      expect(received.indexOf('<footer>')).toBeLessThan(received.indexOf(CHAT_TOKEN))
      expect(received).toMatch(/<eta-embeds-slot id="eta-embeds-[0-9a-f]{24}-0"/)
      expect(received).toMatch(/<template id="eta-embeds-[0-9a-f]{24}-0-html"><script nonce=/)
      expect(received.endsWith('</script></body>')).toBe(true)
    },
  )

  it.each([
    ['in-order', 'chunked'],
    [true, 'chunked'],
    [false, 'whole'],
  ] as const)('%s: the page in document order, %s', async (stream, sent) => {
    const url = await app(stream)
    vendor.resolve()
    const res = await request(url, { dispatcher: client })
    const body = await res.body.text()

    expect(res.statusCode).toBe(200)
    expect(res.headers['content-length'] === undefined ? 'chunked' : 'whole').toBe(sent)
    expect(body).toMatch(
      new RegExp(
        `^<body><h1>Hi</h1><script nonce="[^"]+">var carameloaiChatbot = \\{"secure_connection_token":"${CHAT_TOKEN}"`,
      ),
    )
    expect(body).toMatch(/authenticated\.js"><\/script><footer>F<\/footer><\/body>$/)
    expect(body).not.toMatch(/eta-embeds-slot|<template/)
  })

  it.each([['fast'], [1], [null], ['in order']])('refuses %j, naming options.stream', (stream) => {
    expect(() =>
      embeds({
        templates: () => Promise.resolve({}),
        dispatcher: vendors,
        stream: stream as never,
      }),
    ).toThrow(
      new TypeError(
        `options.stream must be 'out-of-order', 'in-order' (or true) or false (the whole page at once), got ${typeof stream === 'string' ? `'${stream}'` : stream === null ? 'null' : typeof stream}`,
      ),
    )
  })
})
