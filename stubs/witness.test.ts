/**
 * The witnesses' token shapes: each accepts exactly its vendor's own use of a token, and nothing that
 * merely holds it (the same token in a URL, another header, another endpoint's body).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startCarameloStub } from './caramelo.ts'
import { startReturningSdkStub } from './returning-sdk.ts'
import { startReturningStub } from './returning.ts'
import { carameloWitness, jsonField, returningProxyWitness, returningSdkWitness, type StubWitness } from './witness.ts'

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()))
})

async function witnesses(): Promise<Record<string, StubWitness>> {
  const returning = await startReturningStub({ apiKey: 'api-key-0123456789', communityId: 'c' })
  const sdk = await startReturningSdkStub({ accessId: 'id', accessKey: 'access-key-0123456789', communityId: 'c' })
  const caramelo = await startCarameloStub({ secretToken: 'secret-token-0123456789', projectId: 'p' })
  closers.push(
    () => returning.close(),
    () => sdk.close(),
    () => caramelo.close(),
  )
  return {
    proxy: returningProxyWitness(returning),
    sdk: returningSdkWitness(sdk),
    caramelo: carameloWitness(caramelo),
  }
}

const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'

describe('stub witnesses', () => {
  it('accept their own vendor use of a token and nothing else', async () => {
    const { proxy, sdk, caramelo } = await witnesses()
    const matches = (w: StubWitness | undefined, entry: Parameters<StubWitness['token']['uses'][0]['matches']>[0]) =>
      (w?.token.uses ?? []).some((use) => use.matches(entry, TOKEN))

    const me = `${proxy?.url}/api/me`
    expect(matches(proxy, { kind: 'request header', name: 'authorization', url: me, text: `Bearer ${TOKEN}` })).toBe(
      true,
    )
    expect(matches(proxy, { kind: 'request header', name: 'x-token', url: me, text: `Bearer ${TOKEN}` })).toBe(false)
    expect(matches(proxy, { kind: 'request url', url: `${me}?t=${TOKEN}`, text: `${me}?t=${TOKEN}` })).toBe(false)
    expect(proxy?.token.srcdoc).toBe(true)

    const validate = `${sdk?.url}/v2/api/widget-access-keys/validate`
    const body = JSON.stringify({ embedToken: TOKEN })
    expect(matches(sdk, { kind: 'request body', url: validate, text: body })).toBe(true)
    expect(matches(sdk, { kind: 'request body', url: `${sdk?.url}/elsewhere`, text: body })).toBe(false)
    expect(matches(sdk, { kind: 'request body', url: validate, text: JSON.stringify({ other: TOKEN }) })).toBe(false)

    const socket = caramelo?.url.replace(/^http/, 'ws') ?? ''
    expect(matches(caramelo, { kind: 'websocket sent', url: `${socket}/ws`, text: TOKEN })).toBe(true)
    expect(matches(caramelo, { kind: 'websocket sent', url: 'ws://127.0.0.1:1/ws', text: TOKEN })).toBe(false)
    expect(matches(caramelo, { kind: 'request url', url: `${socket}/ws`, text: TOKEN })).toBe(false)
  })

  it('jsonField reads a field of a JSON object and nothing of anything else', () => {
    expect(jsonField('{"a":1}', 'a')).toBe(1)
    expect(jsonField('[1]', 'a')).toBeUndefined()
    expect(jsonField('null', 'a')).toBeUndefined()
    expect(jsonField('not json', 'a')).toBeUndefined()
  })
})
