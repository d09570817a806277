import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { Sealer } from './seal.ts'

const OLD_SECRET = 'old-secret-old-secret-old-secret-0'
const NEW_SECRET = 'new-secret-new-secret-new-secret-1'
const KEY = 'widget-token:Yq3t8Qw-example'
const plaintext = Buffer.from('{"token":"eyJhbGciOi.canary.sig","email":"alice@example.com"}')

describe('Sealer', () => {
  it('opens what it sealed, for the same key name', () => {
    const sealer = new Sealer([NEW_SECRET])
    expect(sealer.open(KEY, sealer.seal(KEY, plaintext))).toEqual(plaintext)
    expect(sealer.open(KEY, sealer.seal(KEY, Buffer.alloc(0)))).toEqual(Buffer.alloc(0))
  })

  it('hides the plaintext: neither it nor a part of it appears in the sealed value, raw or encoded', () => {
    const sealed = new Sealer([NEW_SECRET]).seal(KEY, plaintext)
    for (const form of [sealed.toString('latin1'), sealed.toString('base64'), sealed.toString('hex')]) {
      expect(form).not.toContain('alice')
      expect(form).not.toContain('canary')
    }
  })

  it('seals one value differently each time (a random IV per value)', () => {
    const sealer = new Sealer([NEW_SECRET])
    const first = sealer.seal(KEY, plaintext)
    const second = sealer.seal(KEY, plaintext)
    expect(first.equals(second)).toBe(false)
    expect(first.subarray(5, 17).equals(second.subarray(5, 17))).toBe(false)
  })

  it('rotates: the first key seals, every key of the ring opens, a removed key no longer opens', () => {
    const before = new Sealer([OLD_SECRET])
    const during = new Sealer([NEW_SECRET, OLD_SECRET])
    const after = new Sealer([NEW_SECRET])
    const sealedBefore = before.seal(KEY, plaintext)
    const sealedDuring = during.seal(KEY, plaintext)

    expect(during.open(KEY, sealedBefore)).toEqual(plaintext)
    expect(after.open(KEY, sealedDuring)).toEqual(plaintext)
    expect(before.open(KEY, sealedDuring)).toBeUndefined()
    expect(after.open(KEY, sealedBefore)).toBeUndefined()
  })

  it('does not open a value copied under another key name', () => {
    const sealer = new Sealer([NEW_SECRET])
    expect(sealer.open('widget-token:another-user', sealer.seal(KEY, plaintext))).toBeUndefined()
  })

  it('opens nothing altered: any one byte flipped, in the header, ciphertext or tag', () => {
    const sealer = new Sealer([NEW_SECRET])
    const sealed = sealer.seal(KEY, plaintext)
    for (let i = 0; i < sealed.length; i++) {
      const tampered = Buffer.from(sealed)
      tampered[i]! ^= 0x01
      expect(sealer.open(KEY, tampered), `byte ${i} flipped`).toBeUndefined()
    }
  })

  it('returns undefined, never throws, for truncated, empty, absent or random values', () => {
    const sealer = new Sealer([NEW_SECRET])
    const sealed = sealer.seal(KEY, plaintext)
    for (let length = 0; length < sealed.length; length++) {
      expect(sealer.open(KEY, sealed.subarray(0, length)), `first ${length} bytes`).toBeUndefined()
    }
    expect(sealer.open(KEY, Buffer.alloc(0))).toBeUndefined()
    expect(sealer.open(KEY, undefined)).toBeUndefined()
    expect(sealer.open(KEY, 'a string' as unknown as Buffer)).toBeUndefined()
    for (let i = 0; i < 200; i++) {
      expect(sealer.open(KEY, randomBytes(i))).toBeUndefined()
    }
    // Random bytes behind the right version and key id still fail authentication.
    const forged = Buffer.concat([sealed.subarray(0, 5), randomBytes(60)])
    expect(sealer.open(KEY, forged)).toBeUndefined()
  })

  describe('storeKey', () => {
    it('is stable across instances with the same first secret, and keeps the purpose readable', () => {
      const a = new Sealer([NEW_SECRET]).storeKey('widget-token', 'returning-proxy', 'alice@example.com')
      const b = new Sealer([NEW_SECRET, OLD_SECRET]).storeKey('widget-token', 'returning-proxy', 'alice@example.com')
      expect(a).toBe(b)
      expect(a).toMatch(/^widget-token:[A-Za-z0-9_-]{43}$/)
      expect(a).not.toContain('alice')
    })

    it('differs per purpose, per part, per part boundary and per secret', () => {
      const sealer = new Sealer([NEW_SECRET])
      const keys = [
        sealer.storeKey('widget-token', 'alice'),
        sealer.storeKey('session', 'alice'),
        sealer.storeKey('widget-token', 'bob'),
        sealer.storeKey('widget-token', 'a:b', 'c'),
        sealer.storeKey('widget-token', 'a', 'b:c'),
        new Sealer([OLD_SECRET]).storeKey('widget-token', 'alice'),
      ]
      expect(new Set(keys).size).toBe(keys.length)
    })

    it('refuses a purpose that is not a short lowercase name', () => {
      const sealer = new Sealer([NEW_SECRET])
      for (const purpose of ['', 'Widget', 'has space', 'a:b', 'x'.repeat(33), '1st']) {
        expect(() => sealer.storeKey(purpose, 'part'), purpose).toThrow(/^store key purpose must be/)
      }
    })
  })

  describe('configuration', () => {
    it('refuses a secret shorter than 32 characters, naming its option and not repeating it', () => {
      // The whole message, anchored: the secret is not in it.
      expect(() => new Sealer(['short-secret'])).toThrow(
        /^options\.store\.secretKeys\[0\] must be a secret of at least 32 characters, got 12 characters \(make one with: openssl rand -base64 32\)$/,
      )
      expect(() => new Sealer([NEW_SECRET, 'x'.repeat(31)])).toThrow(/^options\.store\.secretKeys\[1\] must be/)
      expect(() => new Sealer(['y'.repeat(32)])).not.toThrow()
    })

    it('refuses an empty ring, and names the option path it is given', () => {
      expect(() => new Sealer([])).toThrow('options.store.secretKeys must hold at least one secret')
      expect(() => new Sealer(['tiny'], 'STORE_SECRET_KEYS')).toThrow(/^STORE_SECRET_KEYS\[0\] must be a secret/)
    })
  })
})
