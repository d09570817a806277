/**
 * The kit's vendors: every built-in flow and each app adapter that brings a stub, started with canaries
 * that are the same in every process, in an environment that configures every adapter — and a stub that
 * does not use its canary is refused, since checks against it would prove nothing.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { defineVendor } from '../plugin/vendors/define.ts'
import { vendorsFromEnv } from '../plugin/vendors/env.ts'
import { BUILTIN_VENDORS } from '../plugin/vendors/registry.ts'
import type { LocalVendorStarter } from '../stubs/local.ts'
import type { WitnessedToken } from '../stubs/witness.ts'
import { canaryFor, canarySecrets, markStubs, startCanaryVendors, type CanaryVendors } from './vendors.ts'

const running: CanaryVendors[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((vendors) => vendors.close()))
})

/** An app adapter `name` whose secret is the variable `key`. */
function adapter(name: string, key: string) {
  return defineVendor<{ key: string }, { key: string }>({
    name,
    directive: name,
    title: name,
    attributes: {},
    secretEnvNames: [key],
    fromEnv: (env) => (env[key] ? { key: env[key] } : undefined),
    resolve: (options) => options,
    embed: () => Promise.resolve(''),
  })
}
const fake = adapter('fake-help', 'FAKE_HELP_KEY')

/** A stub for `fake`: `keep` decides whether it uses the secret it is given; `closed` counts its closes. */
function fakeStub(minted: WitnessedToken[], keep = true, name = 'fake-help', key = 'FAKE_HELP_KEY', closed = [0]) {
  const starter: LocalVendorStarter = (_env, options) =>
    Promise.resolve({
      env: { [key]: keep ? (options?.secrets?.[key] ?? '') : 'its-own-key-0123456789' },
      url: 'http://127.0.0.1:9',
      witness: {
        vendor: name,
        url: 'http://127.0.0.1:9',
        minted: () => minted,
        received: () => [],
        token: { uses: [] },
      },
      close: () => {
        closed[0] = (closed[0] ?? 0) + 1
        return Promise.resolve()
      },
    })
  return starter
}

describe('startCanaryVendors', () => {
  it('configures every built-in flow and the app adapter with the same canaries canarySecrets gives', async () => {
    const vendors = await startCanaryVendors({ vendors: [{ adapter: fake, stub: fakeStub([]) }] })
    running.push(vendors)
    const names = [...BUILTIN_VENDORS.map((a) => a.definition.name), 'fake-help']
    expect(vendorsFromEnv(vendors.env, [fake]).map((v) => v.definition.name)).toEqual(names)
    expect(vendors.witnesses.map((w) => w.vendor)).toEqual(names)
    expect([...vendors.adapters.keys()]).toEqual(names)
    const secrets = canarySecrets({ vendors: [{ adapter: fake, stub: fakeStub([]) }] })
    expect(vendors.secrets).toEqual(secrets)
    expect(Object.keys(secrets).sort()).toEqual(
      ['CARAMELO_SECRET_TOKEN', 'FAKE_HELP_KEY', 'RAI_ACCESS_KEY', 'SESSION_KEYS', 'WIDGET_API_KEY'].sort(),
    )
    expect(vendors.env).toMatchObject(secrets)
  })

  it('refuses a stub that does not use its canary, and stops the stubs already started', async () => {
    const closed = [0]
    const started = startCanaryVendors({
      vendors: [
        { adapter: fake, stub: fakeStub([], true, 'fake-help', 'FAKE_HELP_KEY', closed) },
        { adapter: adapter('other-help', 'OTHER_KEY'), stub: fakeStub([], false, 'other-help', 'OTHER_KEY') },
      ],
    })
    await expect(started).rejects.toThrow(
      "the stub of 'other-help' answered OTHER_KEY without the canary it was given (options.secrets)",
    )
    expect(closed[0]).toBe(1)
  })

  it('marks where the stubs stand: tokens minted since, with their vendor and holder', async () => {
    const minted: WitnessedToken[] = [{ token: 'before-0123456789', user: { email: 'a@example.com' } }]
    const vendors = await startCanaryVendors({ vendors: [{ adapter: fake, stub: fakeStub(minted) }] })
    running.push(vendors)
    const mark = markStubs(vendors.witnesses)
    minted.push({ token: 'after-0123456789', user: { id: 'u1' } })
    expect(mark.tokens()).toEqual([{ vendor: 'fake-help', token: 'after-0123456789', user: { id: 'u1' } }])
  })
})

describe('canaries', () => {
  it('are the same for a name in every call, differ between names, and can be chosen', () => {
    expect(canaryFor('WIDGET_API_KEY')).toBe(canaryFor('WIDGET_API_KEY'))
    expect(canaryFor('WIDGET_API_KEY')).toMatch(/^canary-widget-api-key-[0-9a-f]{12}$/)
    expect(canaryFor('RAI_ACCESS_KEY')).not.toBe(canaryFor('WIDGET_API_KEY'))
    expect(
      canarySecrets({ secretEnvNames: ['METRICS_TOKEN'], canaries: { SESSION_KEYS: 'my-own-session-key' } }),
    ).toMatchObject({ SESSION_KEYS: 'my-own-session-key', METRICS_TOKEN: canaryFor('METRICS_TOKEN') })
    expect(() => canarySecrets({ canaries: { SESSION_KEYS: 'short' } })).toThrow(/8 characters or longer/)
  })
})
