/**
 * The local stand-ins the demo starts for vendors whose secret is unset: one
 * per built-in adapter, each answering the environment that configures its
 * adapter exactly as a real vendor's would, and each really serving it.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { renderPage } from '../plugin/runtime/render/render.ts'
import {
  compileTemplates,
  recordingLogger,
  TEST_NONCE,
  TEST_USER,
  testRuntime,
} from '../plugin/runtime/test-helpers.ts'
import { vendorsFromEnv } from '../plugin/vendors/env.ts'
import { BUILTIN_VENDORS } from '../plugin/vendors/registry.ts'
import { LOCAL_VENDORS, type LocalVendor } from './local.ts'

const NAMES = BUILTIN_VENDORS.map((adapter) => adapter.definition.name)
/** Ids an app may have chosen; the stubs must serve them rather than their own. */
const APP_ENV = { WIDGET_COMMUNITY_ID: 'acme-community', WIDGET_ID: 'acme-store', CARAMELO_PROJECT_ID: 'acme-project' }

const started: LocalVendor[] = []

afterEach(async () => {
  await Promise.all(started.splice(0).map((vendor) => vendor.close()))
})

async function start(
  name: string,
  env: Record<string, string> = {},
  secrets?: Record<string, string>,
): Promise<LocalVendor> {
  const starter = LOCAL_VENDORS[name]
  if (!starter) throw new Error(`no local stub for '${name}'`)
  const vendor = await starter(env, secrets ? { secrets } : undefined)
  started.push(vendor)
  return vendor
}

describe('LOCAL_VENDORS', () => {
  it('has a stub for every built-in adapter, and for nothing else', () => {
    expect(Object.keys(LOCAL_VENDORS).sort()).toEqual([...NAMES].sort())
  })

  it.each(BUILTIN_VENDORS.map((adapter) => [adapter.definition.name, adapter] as const))(
    "starts %s with an env its adapter's fromEnv turns into options resolve accepts",
    async (name, adapter) => {
      const { definition } = adapter
      const vendor = await start(name)

      expect(vendor.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+/)
      for (const secretName of definition.secretEnvNames ?? []) expect(vendor.env[secretName]).toBeTruthy()
      const options: unknown = definition.fromEnv?.(vendor.env)
      expect(options).toBeDefined()
      expect(() => {
        definition.resolve(options, 'options.vendors[0]')
      }).not.toThrow()
      // Its env configures its own adapter and no other.
      expect(vendorsFromEnv(vendor.env).map((v) => v.definition.name)).toEqual([name])
    },
  )

  it('gives fresh credentials on every start', async () => {
    for (const name of NAMES) {
      const [a, b] = [await start(name), await start(name)]
      const secretName = BUILTIN_VENDORS.find((v) => v.definition.name === name)?.definition.secretEnvNames?.[0]
      expect(secretName).toBeDefined()
      expect(a.env[secretName as string]).not.toBe(b.env[secretName as string])
      expect(a.url).not.toBe(b.url)
    }
  })

  it('uses the secrets it is given (the testing kit passes its canaries)', async () => {
    for (const adapter of BUILTIN_VENDORS) {
      const names = adapter.definition.secretEnvNames ?? []
      const secrets = Object.fromEntries(names.map((name) => [name, `given-${name.toLowerCase()}-0123456789`]))
      const vendor = await start(adapter.definition.name, {}, secrets)
      expect(names.length).toBeGreaterThan(0)
      expect(vendor.env).toMatchObject(secrets)
    }
  })

  it("keeps the ids the app chose, and every stub serves its adapter's directive with them", async () => {
    const env: Record<string, string> = { ...APP_ENV }
    const witnesses = []
    for (const name of NAMES) {
      const vendor = await start(name, APP_ENV)
      Object.assign(env, vendor.env)
      witnesses.push(vendor.witness)
    }
    expect(env).toMatchObject(APP_ENV)

    const vendors = vendorsFromEnv(env)
    expect(vendors.map((v) => v.definition.name)).toEqual(NAMES)
    const templates = await compileTemplates({
      home: '[<<widget flow="proxy">>][<<widget flow="sdk">>][<<caramelo>>]',
    })
    const logger = recordingLogger()
    const runtime = testRuntime({ vendors, logger })
    try {
      const html = await renderPage(
        runtime,
        templates,
        'home',
        {},
        {
          user: TEST_USER,
          nonce: TEST_NONCE,
          acceptLanguage: undefined,
        },
      )
      expect(logger.lines).toEqual([])
      expect(html).toMatch(/^\[<iframe [^>]* srcdoc="[^"]*acme-store[^"]*"><\/iframe>\]/)
      expect(html).toContain('[<rai-store-widget class="eta-embeds-widget" community-id="acme-community" embed-token="')
      expect(html).toContain('"project_id":"acme-project"')
      // Each witness names its adapter and saw one token minted, for the user as the server described them.
      expect(witnesses.map((w) => w.vendor)).toEqual(NAMES)
      expect(witnesses.map((w) => w.minted().map((m) => m.user))).toEqual([
        [{ email: TEST_USER.email }],
        [{ email: TEST_USER.email, id: TEST_USER.id }],
        [{ id: TEST_USER.id, email: TEST_USER.email, name: TEST_USER.name }],
      ])
    } finally {
      await runtime.close()
    }
  })
})
