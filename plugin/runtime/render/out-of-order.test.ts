/**
 * Out-of-order streaming (issue 12): the page's own content leaves at once,
 * each directive still waiting on its vendor held by a slot of its size, and
 * each directive's HTML follows in settle order inside a `<template>` with a
 * nonce-carrying call that moves it into place. Vendors here are a test
 * adapter whose answers the test hands out one by one (no timer decides an
 * order), and Caramelo behind a MockAgent for the deadline.
 */
import { MockAgent } from 'undici'
import { beforeEach, describe, expect, it } from 'vitest'
import { VendorError } from '../../errors.ts'
import { caramelo } from '../../vendors/caramelo/index.ts'
import { defineVendor, type Embed, type EmbedsUser } from '../../vendors/define.ts'
import { definitionsOf } from '../../vendors/registry.ts'
import { returningProxy } from '../../vendors/returning/proxy.ts'
import { identifier, pixels } from '../../vendors/rules.ts'
import { Vocabulary } from '../../vendors/vocabulary.ts'
import {
  compileTemplates,
  deferred,
  mockAgentPerTest,
  recordingLogger,
  replyWith,
  TEST_NONCE,
  TEST_USER,
  TEST_VENDORS,
  testRuntime,
} from '../test-helpers.ts'
import { joinChunks, renderPageChunks, type TemplateMap, type WriteOrder } from './render.ts'

type Answer = Embed | Error

/** Each `<<pane name="…">>` answers what the test hands out for its name, when it does. */
let answers: Map<string, ReturnType<typeof deferred<Answer>>>
function answerFor(name: string) {
  let answer = answers.get(name)
  if (!answer) answers.set(name, (answer = deferred<Answer>()))
  return answer
}

/** A test vendor: `size` is the room it says its embed takes; `NONCE` in an answer becomes the page's nonce. */
const pane = defineVendor<Record<string, never>, Record<string, never>>({
  name: 'pane',
  directive: 'pane',
  title: 'Test pane',
  attributes: { name: identifier, size: pixels },
  resolve: () => ({}),
  slot: (_config, attrs) => (attrs['size'] ? { height: Number(attrs['size']) } : undefined),
  async embed({ attributes, nonce }) {
    const answer = await answerFor(attributes['name'] ?? '').promise
    if (answer instanceof Error) throw answer
    const html = answer.html.replaceAll('NONCE', nonce)
    return answer.once ? { html, once: { ...answer.once, html: answer.once.html.replaceAll('NONCE', nonce) } } : html
  },
})
const VOCABULARY = new Vocabulary(definitionsOf([pane]))

let agent: MockAgent
mockAgentPerTest((a) => (agent = a))
let logger: ReturnType<typeof recordingLogger>

beforeEach(() => {
  answers = new Map()
  logger = recordingLogger()
})

async function chunks(
  templates: TemplateMap,
  data: object = {},
  options: { user?: EmbedsUser | undefined; order?: WriteOrder; timeoutMs?: number } = {},
) {
  const runtime = testRuntime({
    vendors: [pane({}), caramelo(TEST_VENDORS.caramelo), returningProxy(TEST_VENDORS.returning)],
    dispatcher: agent,
    logger,
    timeoutMs: options.timeoutMs ?? 2000,
  })
  const user = 'user' in options ? options.user : TEST_USER
  return renderPageChunks(
    runtime,
    templates,
    'home',
    data,
    { user, nonce: TEST_NONCE, acceptLanguage: undefined },
    options.order ?? 'settle',
  )
}

/** The next chunk, which must be there. */
async function next(page: AsyncGenerator<string>): Promise<string> {
  const { done, value } = await page.next()
  if (done) throw new Error('the page ended early')
  return value
}

/** The render's id, read from the first slot of `head`. */
function renderId(head: string): string {
  const id = /<eta-embeds-slot id="eta-embeds-([0-9a-f]{24})-\d+"/.exec(head)?.[1]
  if (!id) throw new Error(`no slot in ${head}`)
  return id
}

const MOVER = `<script nonce="${TEST_NONCE}">(function () {`
const move = (key: string, html: string) =>
  `<template id="eta-embeds-${key}-html">${html}</template><script nonce="${TEST_NONCE}">__etaEmbedsMove("${key}")</script>`

describe('out of order: the page first, then each directive as it settles', () => {
  it('sends the own content at once with sized slots, the directives in settle order, then the document’s end', async () => {
    const templates = await compileTemplates(
      { home: '<body><h1>Hi</h1><<pane name="a" size="260">><<pane name="b">><footer>F</footer></body></html>' },
      VOCABULARY,
    )
    const page = await chunks(templates)

    // No vendor has answered: if any chunk here waited for one, the test would hang.
    const head = await next(page)
    const id = renderId(head)
    expect(head).toBe(
      `<body><h1>Hi</h1><eta-embeds-slot id="eta-embeds-${id}-0" style="display:block;min-height:260px"></eta-embeds-slot>` +
        `<eta-embeds-slot id="eta-embeds-${id}-1" style="display:contents"></eta-embeds-slot><footer>F</footer>`,
    )
    expect(await next(page)).toMatch(new RegExp(`^${escape(MOVER)}[^]*</script>$`))

    answerFor('b').resolve({ html: '<p>B</p><script nonce="NONCE">b()</script>' })
    expect(await next(page)).toBe(move(`${id}-1`, `<p>B</p><script nonce="${TEST_NONCE}">b()</script>`))
    answerFor('a').resolve({ html: '<p>A</p>' })
    expect(await next(page)).toBe(move(`${id}-0`, '<p>A</p>'))
    expect(await next(page)).toBe('</body></html>')
    await expect(page.next()).resolves.toEqual({ done: true, value: undefined })
  })

  it('inlines directives settled before the template finished: no slot, no template, no script', async () => {
    const templates = await compileTemplates(
      { home: '<body>[<<pane name="early">>][<<pane name="late" size="80">>]</body>' },
      VOCABULARY,
    )
    answerFor('early').resolve({ html: '<p>E</p>' })
    const page = await chunks(templates)

    const head = await next(page)
    const id = renderId(head)
    expect(head).toBe(
      `<body>[<p>E</p>][<eta-embeds-slot id="eta-embeds-${id}-1" style="display:block;min-height:80px"></eta-embeds-slot>]`,
    )
    expect(await next(page)).toContain(MOVER)
    answerFor('late').resolve({ html: '<p>L</p>' })
    expect(await next(page)).toBe(move(`${id}-1`, '<p>L</p>'))
    expect(await next(page)).toBe('</body>')
  })

  it('sends a page whose directives all settled at once exactly as in document order (anonymous, lazy frames)', async () => {
    const templates = await compileTemplates({
      home: '<body><<widget loading="lazy" id="s1" height="90">>[<<caramelo fallback="partials/c">>]</body>',
      'partials/c': '<p data-fallback>C</p>',
    })
    const anonymous = { user: undefined }
    const settle = await joinChunks(await chunks(templates, {}, { ...anonymous, order: 'settle' }))
    expect(settle).toBe(await joinChunks(await chunks(templates, {}, { ...anonymous, order: 'document' })))
    expect(settle).toBe('<body>[<p data-fallback>C</p>]</body>')

    // Signed in, the lazy frame is ready at once: only the chatbot waits for its vendor.
    const vendor = deferred()
    agent
      .get(TEST_VENDORS.caramelo.apiUrl)
      .intercept({ path: `/api/chatbox/project/${TEST_VENDORS.caramelo.projectId}/intranet-auth`, method: 'POST' })
      .reply(
        200,
        replyWith(() => vendor.promise.then(() => JSON.stringify({ real_time_access_token: 'rtat_alice_0123456789' }))),
      )
    const page = await chunks(templates)
    expect(await next(page)).toMatch(
      /^<body><iframe [^>]*loading="lazy" src="[^"]+"><\/iframe>\[<eta-embeds-slot id="[^"]+" style="display:contents">/,
    )
    vendor.resolve()
    expect(await joinChunks(page)).toContain('rtat_alice_0123456789')
  })

  it('without </body>, sends the directives after the whole page', async () => {
    const templates = await compileTemplates({ home: '<p>x</p><<pane name="a">>tail' }, VOCABULARY)
    const page = await chunks(templates)

    const head = await next(page)
    const id = renderId(head)
    expect(head).toBe(
      `<p>x</p><eta-embeds-slot id="eta-embeds-${id}-0" style="display:contents"></eta-embeds-slot>tail`,
    )
    expect(await next(page)).toContain(MOVER)
    answerFor('a').resolve({ html: 'A' })
    expect(await next(page)).toBe(move(`${id}-0`, 'A'))
    await expect(page.next()).resolves.toEqual({ done: true, value: undefined })
  })

  it('gives HTML a page needs once to the first directive that settles with it, inlined ones included', async () => {
    const templates = await compileTemplates(
      { home: '<body><<pane name="a">><<pane name="b">><<pane name="c">></body>' },
      VOCABULARY,
    )
    const once = { key: 'sdk', html: '<script nonce="NONCE" src="https://cdn.test/sdk.js"></script>' }
    answerFor('a').resolve({ html: 'A' })
    const page = await chunks(templates)
    const head = await next(page)
    await next(page)
    answerFor('c').resolve({ html: 'C', once })
    const c = await next(page)
    answerFor('b').resolve({ html: 'B', once })
    const b = await next(page)

    const sdk = `<script nonce="${TEST_NONCE}" src="https://cdn.test/sdk.js"></script>`
    expect([head.includes('sdk.js'), c.includes(sdk), b.includes('sdk.js')]).toEqual([false, true, false])
  })
})

describe('out of order: failures and hangs', () => {
  it('sends a failing directive’s fallback through its template; the slot holds it for browsers without JavaScript', async () => {
    const templates = await compileTemplates(
      {
        home: '<body><<pane name="a" size="120" fallback="partials/f">></body>',
        'partials/f': '<p data-fallback="pane">down<% it.renders.push(1) %></p>',
      },
      VOCABULARY,
    )
    const renders: number[] = []
    const page = await chunks(templates, { renders })

    const head = await next(page)
    const id = renderId(head)
    const fallback = '<p data-fallback="pane">down</p>'
    expect(head).toContain(`min-height:120px"><noscript>${fallback}</noscript></eta-embeds-slot>`)
    await next(page)
    answerFor('a').resolve(new VendorError('pane', 'ERR_VENDOR_STATUS', 'pane answered 500', { status: 500 }))
    expect(await next(page)).toBe(move(`${id}-0`, fallback))
    // One render of the partial serves both.
    expect(renders).toEqual([1])
    expect(logger.lines.map((l) => [l.fields['vendor'], l.fields['cause'], l.message])).toEqual([
      ['pane', 'ERR_VENDOR_STATUS', 'vendor call failed; rendered the fallback'],
    ])
  })

  it('sends a hanging vendor’s fallback the same way once its deadline passes', async () => {
    const templates = await compileTemplates({
      home: '<body><h1>Hi</h1><<caramelo fallback="partials/c">><footer>F</footer></body>',
      'partials/c': '<p>chat later</p>',
    })
    agent
      .get(TEST_VENDORS.caramelo.apiUrl)
      .intercept({ path: `/api/chatbox/project/${TEST_VENDORS.caramelo.projectId}/intranet-auth`, method: 'POST' })
      .reply(
        200,
        replyWith(() => new Promise(() => undefined)),
      )
    const page = await chunks(templates, {}, { timeoutMs: 100 })

    const head = await next(page)
    const id = renderId(head)
    expect(head).toContain('<footer>F</footer>')
    await next(page)
    expect(await next(page)).toBe(move(`${id}-0`, '<p>chat later</p>'))
    expect(await next(page)).toBe('</body>')
    expect(logger.lines.map((l) => `${String(l.fields['vendor'])}:${String(l.fields['cause'])}`)).toEqual([
      'caramelo:ERR_VENDOR_TIMEOUT',
    ])
  })
})

describe('out of order: what the page holds', () => {
  it('keeps hostile vendor HTML inside its template; every script outside one is ours, with the nonce', async () => {
    const templates = await compileTemplates(
      { home: '<body><main><<pane name="a" size="50">></main></body>' },
      VOCABULARY,
    )
    const hostile =
      '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">' +
      '<script nonce="a-guess">window.pwned=3</script><svg><script>window.pwned=4</script></svg>'
    const page = await chunks(templates)
    const head = await next(page)
    const id = renderId(head)
    answerFor('a').resolve({ html: hostile })
    const all = head + (await joinChunks(page))

    expect(all.split(hostile)).toHaveLength(2)
    expect(all).toContain(`<template id="eta-embeds-${id}-0-html">${hostile}</template>`)
    const outside = all.replace(/<template id="eta-embeds-[^"]+">[^]*?<\/template>/g, '')
    const scripts = [...outside.matchAll(/<script\b([^>]*)>([^]*?)<\/script>/g)]
    expect(scripts.map(([, attrs]) => attrs)).toEqual([` nonce="${TEST_NONCE}"`, ` nonce="${TEST_NONCE}"`])
    expect(scripts[1]?.[2]).toBe(`__etaEmbedsMove("${id}-0")`)
    // The mover runs only scripts that carry the page's nonce, as the page's CSP would.
    expect(scripts[0]?.[2]).toContain("(old.nonce || old.getAttribute('nonce')) === nonce")
  })

  it('names slots with the render’s random id: page data cannot pose as a directive, a slot or a template', async () => {
    const forged = '\u0000000000000000000000000000:0\u0000'
    const templates = await compileTemplates({ home: '<body><%~ it.forged %><<pane name="a">></body>' }, VOCABULARY)
    const data = {
      forged: `${forged}<eta-embeds-slot id="eta-embeds-000000000000000000000000-0"></eta-embeds-slot>`,
    }
    const ids: string[] = []
    for (let i = 0; i < 2; i++) {
      answers = new Map()
      const page = await chunks(templates, data)
      const head = await next(page)
      ids.push(renderId(head.replace(data.forged, '')))
      // The forged mark is text of the page, left as it is; only the render's own mark became a slot.
      expect(head.startsWith(`<body>${data.forged}<eta-embeds-slot id="eta-embeds-${ids[i]}-0"`)).toBe(true)
      answerFor('a').resolve({ html: 'A' })
      expect(await joinChunks(page)).not.toContain('000000000000000000000000-0")')
    }
    expect(ids[0]).not.toBe(ids[1])
    expect(ids[0]).not.toBe('000000000000000000000000')
  })
})

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
