/**
 * What a vendor failure logs (issue 15): one line per failure (SPEC), written
 * once the directive's outcome is known, saying what the page got instead —
 * the fallback, nothing because there is none, or nothing because the
 * fallback itself failed, with the template line it failed at and never its
 * message (a template's error can quote the page's data).
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { VendorError } from '../../errors.ts'
import { defineVendor } from '../../vendors/define.ts'
import { definitionsOf } from '../../vendors/registry.ts'
import { identifier } from '../../vendors/rules.ts'
import { Vocabulary } from '../../vendors/vocabulary.ts'
import { joinChunks, renderPage, renderPageChunks, type TemplateMap } from '../render/render.ts'
import {
  compileTemplates,
  deferred,
  mockAgentPerTest,
  recordingLogger,
  TEST_NONCE,
  TEST_USER,
  testRuntime,
} from '../test-helpers.ts'
import type { EmbedsUser } from '../../vendors/define.ts'
import type { MockAgent } from 'undici'

/** A vendor that fails when the test says so (at once unless `gate` is set), answering 503. */
let gate: Promise<void> | undefined
const down = defineVendor<Record<string, never>, Record<string, never>>({
  name: 'down',
  directive: 'down',
  title: 'Always down',
  attributes: { name: identifier },
  resolve: () => ({}),
  async embed() {
    await gate
    throw new VendorError('down', 'ERR_VENDOR_STATUS', 'down answered 503', { status: 503 })
  },
})
const VOCABULARY = new Vocabulary(definitionsOf([down]))

// The page's data holds an email; the broken fallback's error message quotes it.
const DATA = { raw: TEST_USER.email }
const PARTIALS = {
  'partials/ok': '<p>later</p>',
  'partials/broken': '<p><%= JSON.parse(it.raw) %></p>',
}
// Where the call that throws stands in partials/broken.
const BROKEN_AT = 'templates/partials/broken.eta:1:13'

let agent: MockAgent
mockAgentPerTest((a) => (agent = a))
let logger: ReturnType<typeof recordingLogger>

beforeEach(() => {
  gate = undefined
  logger = recordingLogger()
})

function runtime() {
  return testRuntime({ vendors: [down({})], dispatcher: agent, logger })
}

async function page(home: string): Promise<TemplateMap> {
  return compileTemplates({ home, ...PARTIALS }, VOCABULARY)
}

function render(templates: TemplateMap, user: EmbedsUser | undefined): Promise<string> {
  return renderPage(runtime(), templates, 'home', DATA, { user, nonce: TEST_NONCE, acceptLanguage: undefined })
}

/** The vendor line's fields every outcome shares. */
const FAILURE = {
  vendor: 'down',
  directive: 'down',
  loc: 'templates/home.eta:1:7',
  cause: 'ERR_VENDOR_STATUS',
  status: 503,
  latencyMs: expect.any(Number) as unknown,
}

describe('a vendor failure: one line, written once the page has what it renders instead', () => {
  it('says it rendered the fallback when the fallback rendered', async () => {
    await expect(render(await page('<main><<down fallback="partials/ok">></main>'), TEST_USER)).resolves.toBe(
      '<main><p>later</p></main>',
    )
    expect(logger.lines).toEqual([
      {
        level: 'warn',
        message: 'vendor call failed; rendered the fallback',
        fields: { ...FAILURE, fallback: 'partials/ok' },
      },
    ])
  })

  it('says it rendered nothing when the directive has no fallback', async () => {
    await expect(render(await page('<main><<down>></main>'), TEST_USER)).resolves.toBe('<main></main>')
    expect(logger.lines).toEqual([
      { level: 'warn', message: 'vendor call failed; rendered nothing (no fallback)', fields: FAILURE },
    ])
  })

  it('says it rendered nothing because the fallback failed, where it failed, and nothing the page’s data put in the error', async () => {
    await expect(render(await page('<main><<down fallback="partials/broken">></main>'), TEST_USER)).resolves.toBe(
      '<main></main>',
    )
    expect(logger.lines).toEqual([
      {
        level: 'warn',
        message: 'vendor call failed; rendered nothing (the fallback failed)',
        fields: { ...FAILURE, fallback: 'partials/broken', fallbackCause: 'SyntaxError', fallbackLoc: BROKEN_AT },
      },
    ])
    expect(JSON.stringify(logger.lines)).not.toContain(TEST_USER.email)
  })

  it('logs the slot’s no-script copy failing on its own line, then the vendor failure once, out of order', async () => {
    const open = deferred()
    gate = open.promise
    const chunks = await renderPageChunks(
      runtime(),
      await page('<main><<down fallback="partials/broken">></main>'),
      'home',
      DATA,
      { user: TEST_USER, nonce: TEST_NONCE, acceptLanguage: undefined },
      'settle',
    )
    const head = await chunks.next()
    // The slot is written before the vendor answers: its no-script copy is the fallback, which failed.
    expect(head.value).toContain('<eta-embeds-slot')
    expect(logger.lines.map((l) => l.message)).toEqual(['fallback failed'])
    open.resolve()
    await joinChunks(chunks)
    expect(logger.lines.map((l) => [l.message, l.fields['fallbackLoc']])).toEqual([
      ['fallback failed', undefined],
      ['vendor call failed; rendered nothing (the fallback failed)', BROKEN_AT],
    ])
  })
})

describe('a fallback that fails with no vendor failure', () => {
  it('is one line with the fallback, its kind and its place, never its message', async () => {
    await expect(render(await page('<main><<down fallback="partials/broken">></main>'), undefined)).resolves.toBe(
      '<main></main>',
    )
    expect(logger.lines).toEqual([
      {
        level: 'warn',
        message: 'fallback failed',
        // Rendered where the template stands (no user: nothing to wait for), so the directive led there.
        fields: { fallback: 'partials/broken', cause: 'SyntaxError', loc: `${BROKEN_AT} (via templates/home.eta:1:7)` },
      },
    ])
    expect(JSON.stringify(logger.lines)).not.toContain(TEST_USER.email)
  })
})
