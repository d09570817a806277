import { describe, expect, it, vi } from 'vitest'
import { deferred } from '../test-helpers.ts'
import { jwtExpiry, TokenCache, type TokenCacheOptions } from './token-cache.ts'

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

/** A JWT-shaped token with this payload; the signature is never looked at. */
function jwt(payload: unknown): string {
  return `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(payload)}.c2lnbmF0dXJl`
}

// The clock starts at 1 000 000 ms; a token expiring at 1 300 s is reusable until 1 270 000 ms.
const EXP = 1_300

function setup(options: TokenCacheOptions = {}) {
  const clock = { t: 1_000_000 }
  const cache = new TokenCache({ now: () => clock.t, ...options })
  return { cache, clock }
}

/** A mint function that hands out the given tokens in turn and counts its calls. */
function minter(...tokens: string[]) {
  return vi.fn(() => {
    const token = tokens.shift()
    return token === undefined ? Promise.reject(new Error('no more tokens')) : Promise.resolve(token)
  })
}

describe('TokenCache', () => {
  it('reuses a token while now < exp * 1000 - refreshBeforeExpiryMs, and mints a new one from then on', async () => {
    const { cache, clock } = setup()
    const first = jwt({ sub: 'a', exp: EXP })
    const second = jwt({ sub: 'a', exp: EXP + 300 })
    const mint = minter(first, second)
    await expect(cache.get('alice', mint)).resolves.toBe(first)
    clock.t = 1_269_999
    await expect(cache.get('alice', mint)).resolves.toBe(first)
    expect(mint).toHaveBeenCalledTimes(1)
    clock.t = 1_270_000
    await expect(cache.get('alice', mint)).resolves.toBe(second)
    expect(mint).toHaveBeenCalledTimes(2)
  })

  it('honours a custom refreshBeforeExpiryMs', async () => {
    const { cache, clock } = setup({ refreshBeforeExpiryMs: 0 })
    const mint = minter(jwt({ exp: EXP }), jwt({ exp: EXP + 300 }))
    await cache.get('alice', mint)
    clock.t = 1_299_999
    await cache.get('alice', mint)
    expect(mint).toHaveBeenCalledTimes(1)
    clock.t = 1_300_000
    await cache.get('alice', mint)
    expect(mint).toHaveBeenCalledTimes(2)
  })

  it('keeps identities apart', async () => {
    const { cache } = setup()
    const alice = jwt({ sub: 'alice', exp: EXP })
    const bob = jwt({ sub: 'bob', exp: EXP })
    await expect(cache.get('hash-alice', () => Promise.resolve(alice))).resolves.toBe(alice)
    await expect(cache.get('hash-bob', () => Promise.resolve(bob))).resolves.toBe(bob)
    await expect(cache.get('hash-alice', minter())).resolves.toBe(alice)
    expect(cache.size).toBe(2)
  })

  it('mints once for concurrent requests of one identity (single-flight)', async () => {
    const { cache } = setup()
    const token = jwt({ exp: EXP })
    const gate = deferred<string>()
    const mint = vi.fn(() => gate.promise)
    const waiting = Array.from({ length: 10 }, () => cache.get('alice', mint))
    gate.resolve(token)
    await expect(Promise.all(waiting)).resolves.toEqual(Array(10).fill(token))
    expect(mint).toHaveBeenCalledTimes(1)
    expect(cache.size).toBe(1)
  })

  it('rejects every waiter of a failed mint with its error, stores nothing, and mints afresh next time', async () => {
    const { cache } = setup()
    const failure = new Error('vendor down')
    const mint = vi.fn(() => Promise.reject(failure))
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => cache.get('alice', mint)))
    expect(results).toEqual(Array(10).fill({ status: 'rejected', reason: failure }))
    expect(mint).toHaveBeenCalledTimes(1)
    expect(cache.size).toBe(0)
    const token = jwt({ exp: EXP })
    await expect(cache.get('alice', () => Promise.resolve(token))).resolves.toBe(token)
  })

  it('turns a mint that throws synchronously into a rejection and does not stay stuck on it', async () => {
    const { cache } = setup()
    const failure = new Error('bad config')
    await expect(
      cache.get('alice', () => {
        throw failure
      }),
    ).rejects.toBe(failure)
    const token = jwt({ exp: EXP })
    await expect(cache.get('alice', () => Promise.resolve(token))).resolves.toBe(token)
  })

  it.each([
    ['no exp', jwt({ sub: 'a' })],
    ['a string exp', jwt({ exp: String(EXP) })],
    ['a payload that is not an object', jwt(EXP)],
    ['a payload that is not JSON', `${b64url({})}.bm90IGpzb24.sig`],
    ['not three segments', 'opaque-token'],
  ])('returns but never stores a token with %s', async (_case, token) => {
    const { cache } = setup()
    const mint = minter(token, token)
    await expect(cache.get('alice', mint)).resolves.toBe(token)
    await expect(cache.get('alice', mint)).resolves.toBe(token)
    expect(mint).toHaveBeenCalledTimes(2)
    expect(cache.size).toBe(0)
  })

  it('returns but does not store a token minted with too little life left', async () => {
    const { cache } = setup()
    // exp at 1 020 s: reusable until 990 000 ms, already past at 1 000 000 ms.
    const token = jwt({ exp: 1_020 })
    const mint = minter(token, token)
    await expect(cache.get('alice', mint)).resolves.toBe(token)
    await cache.get('alice', mint)
    expect(mint).toHaveBeenCalledTimes(2)
    expect(cache.size).toBe(0)
  })

  it('drops the least recently used identity beyond maxEntries', async () => {
    const { cache } = setup({ maxEntries: 2 })
    const tokens = { a: jwt({ sub: 'a', exp: EXP }), b: jwt({ sub: 'b', exp: EXP }), c: jwt({ sub: 'c', exp: EXP }) }
    await cache.get('a', () => Promise.resolve(tokens.a))
    await cache.get('b', () => Promise.resolve(tokens.b))
    // Using 'a' makes 'b' the least recently used.
    await cache.get('a', minter())
    await cache.get('c', () => Promise.resolve(tokens.c))
    expect(cache.size).toBe(2)
    await expect(cache.get('a', minter())).resolves.toBe(tokens.a)
    await expect(cache.get('c', minter())).resolves.toBe(tokens.c)
    const fresh = jwt({ sub: 'b', exp: EXP + 1 })
    await expect(cache.get('b', () => Promise.resolve(fresh))).resolves.toBe(fresh)
  })

  it('forgets an identity on delete()', async () => {
    const { cache } = setup()
    const first = jwt({ exp: EXP })
    const second = jwt({ exp: EXP + 1 })
    await cache.get('alice', () => Promise.resolve(first))
    expect(cache.delete('alice')).toBe(true)
    expect(cache.size).toBe(0)
    await expect(cache.get('alice', () => Promise.resolve(second))).resolves.toBe(second)
  })

  it.each([
    [{ maxEntries: 0 }, 'options.maxEntries must be a positive integer, got 0'],
    [{ refreshBeforeExpiryMs: -1 }, 'options.refreshBeforeExpiryMs must be a non-negative integer, got -1'],
  ])('refuses bad options %o', (options, message) => {
    expect(() => new TokenCache(options)).toThrow(new TypeError(message))
  })
})

describe('jwtExpiry', () => {
  it('reads a numeric exp from the payload', () => {
    expect(jwtExpiry(jwt({ exp: 1_700_000_000, sub: 'x' }))).toBe(1_700_000_000)
  })

  it('reads base64url payloads (with - and _)', () => {
    // Characters whose encoding needs the URL-safe alphabet: base64 would have '+' or '/' here.
    const payload = { exp: 42, note: '~~~???>>>' }
    const encoded = b64url(payload)
    expect(encoded).toMatch(/[-_]/)
    expect(jwtExpiry(`e30.${encoded}.`)).toBe(42)
  })

  it.each([['e30.e30.sig'], ['e30..sig'], ['a.b'], [jwt({ exp: Infinity })], [jwt(null)]])(
    'has no expiry for %s',
    (token) => {
      expect(jwtExpiry(token)).toBeUndefined()
    },
  )
})
