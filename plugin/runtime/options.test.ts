import { MockAgent } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { resolveOptions, type EmbedsOptions } from './options.ts'
import { recordingLogger, TEST_VENDORS } from './test-helpers.ts'

let agent: MockAgent

beforeEach(() => {
  agent = new MockAgent()
  agent.disableNetConnect()
})

afterEach(async () => {
  await agent.close()
})

function resolve(options: EmbedsOptions) {
  return resolveOptions({ dispatcher: agent, logger: recordingLogger(), ...options })
}

describe('resolveOptions', () => {
  it('fills the documented defaults', () => {
    const resolved = resolve({
      returning: { apiKey: 'k', communityId: 'c' },
      caramelo: { secretToken: 's' },
    })

    expect(resolved.timeoutMs).toBe(2000)
    expect(resolved.maxResponseBytes).toBe(1024 * 1024)
    expect(resolved.dispatcher).toBe(agent)
    expect(resolved.returning).toEqual({
      baseUrl: 'https://prod-widgets.returning.ai',
      origin: 'https://prod-widgets.returning.ai',
      apiKey: 'k',
      communityId: 'c',
      widgetType: 'store',
      widgetId: undefined,
    })
    expect(resolved.caramelo).toEqual({
      apiUrl: 'https://api.carameloai.com',
      sdkUrl: 'https://static.carameloai.com/sdk/latest/authenticated.js',
      projectId: undefined,
      secretToken: 's',
    })
  })

  it('leaves an omitted vendor unconfigured', () => {
    const resolved = resolve({})

    expect(resolved.returning).toBeUndefined()
    expect(resolved.caramelo).toBeUndefined()
  })

  it('drops trailing slashes from URLs and keeps the origin for the CSP', () => {
    const resolved = resolve({ returning: { ...TEST_VENDORS.returning, baseUrl: 'https://w.test:8443/base//' } })

    expect(resolved.returning?.baseUrl).toBe('https://w.test:8443/base')
    expect(resolved.returning?.origin).toBe('https://w.test:8443')
  })

  it.each([
    [{ timeoutMs: 0 }, 'options.timeoutMs must be a positive integer, got 0'],
    [{ timeoutMs: -5 }, 'options.timeoutMs must be a positive integer, got -5'],
    [{ timeoutMs: 1.5 }, 'options.timeoutMs must be a positive integer, got 1.5'],
    [{ timeoutMs: Number.NaN }, 'options.timeoutMs must be a positive integer, got NaN'],
    [{ maxResponseBytes: 0 }, 'options.maxResponseBytes must be a positive integer, got 0'],
    [{ lazyRateLimit: { requests: 0 } }, 'options.lazyRateLimit.requests must be a positive integer, got 0'],
    [{ lazyRateLimit: { perMs: 500 } }, 'options.lazyRateLimit.perMs must be an integer of at least 1000, got 500'],
    [{ returning: { ...TEST_VENDORS.returning, apiKey: '' } }, 'options.returning.apiKey is required'],
    [{ returning: { ...TEST_VENDORS.returning, communityId: '' } }, 'options.returning.communityId is required'],
    [
      { returning: { ...TEST_VENDORS.returning, baseUrl: 'widgets.test' } },
      "options.returning.baseUrl must be an absolute http(s) URL, got 'widgets.test'",
    ],
    [
      { returning: { ...TEST_VENDORS.returning, baseUrl: 'ftp://widgets.test' } },
      "options.returning.baseUrl must be an http(s) URL, got 'ftp://widgets.test'",
    ],
    [
      { returning: { ...TEST_VENDORS.returning, widgetType: 'admin' as never } },
      "options.returning.widgetType must be one of store, channel, milestone, social, currency, minigames, got 'admin'",
    ],
    [{ caramelo: { ...TEST_VENDORS.caramelo, secretToken: '' } }, 'options.caramelo.secretToken is required'],
    [
      { caramelo: { ...TEST_VENDORS.caramelo, sdkUrl: 'javascript:alert(1)' } },
      "options.caramelo.sdkUrl must be an http(s) URL, got 'javascript:alert(1)'",
    ],
  ] satisfies [EmbedsOptions, string][])('rejects %o', (options, message) => {
    expect(() => resolve(options)).toThrow(new TypeError(message))
  })
})

describe('resolveOptions: vendor URLs never carry credentials', () => {
  // A URL's user-info would reach every browser through `<base href>` or a
  // script's `src`, and Node's fetch refuses it anyway: refuse it at start,
  // without repeating the password in the message.
  it.each([
    [
      { returning: { ...TEST_VENDORS.returning, baseUrl: 'https://user:hunter2-pw@widgets.test' } },
      'returning.baseUrl',
    ],
    [{ returning: { ...TEST_VENDORS.returning, baseUrl: 'https://hunter2-pw@widgets.test/x' } }, 'returning.baseUrl'],
    [{ caramelo: { ...TEST_VENDORS.caramelo, apiUrl: 'http://api:hunter2-pw@chat.test' } }, 'caramelo.apiUrl'],
    [{ caramelo: { ...TEST_VENDORS.caramelo, sdkUrl: 'https://:hunter2-pw@cdn.test/sdk.js' } }, 'caramelo.sdkUrl'],
  ] satisfies [EmbedsOptions, string][])('refuses user-info in %o', (options, name) => {
    let thrown: unknown
    try {
      resolve(options)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(TypeError)
    const message = (thrown as Error).message
    expect(message).toContain(`options.${name} must not contain a user name or password`)
    expect(message).not.toContain('hunter2')
  })

  it('does not echo a credential in any other URL error either', () => {
    expect(() =>
      resolve({ returning: { ...TEST_VENDORS.returning, baseUrl: 'ftp://u:hunter2-pw@widgets.test' } }),
    ).toThrow(/^options\.returning\.baseUrl must be an http\(s\) URL, got 'ftp:\/\/\*\*\*@widgets\.test\/?'$/)
  })
})
