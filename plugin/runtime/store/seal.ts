/**
 * What the shared store holds is unreadable without the configured secret
 * (issue 11: Redis never holds an email or a token in clear):
 *
 * - values are sealed with AES-256-GCM: encrypted and authenticated, a random
 *   96-bit IV each time, the store key's name bound in as associated data, so
 *   a value copied to another key, altered or truncated does not open;
 * - key names are HMAC-SHA256 of what identifies the entry (`storeKey`), so
 *   two instances with the same secret agree on a name without the name
 *   revealing the email or token it stands for.
 *
 * Secrets come from configuration as a key ring: the first key seals, every
 * key opens, so a new secret is rolled out by putting it first and the old
 * one is removed once the values it sealed have expired. Each secret is
 * stretched with HKDF into separate keys for sealing and for naming.
 *
 * Envelope: version (1 byte) | key id (4) | IV (12) | ciphertext | GCM tag (16).
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto'

/** Shortest secret accepted, in characters. */
export const MIN_SECRET_LENGTH = 32

const VERSION = 1
const ID_BYTES = 4
const IV_BYTES = 12
const TAG_BYTES = 16
const HEADER_BYTES = 1 + ID_BYTES + IV_BYTES
// Fixed: HKDF's salt only has to differ from other applications' uses of the same secret.
const SALT = 'vite-plugin-eta-embeds/store'

interface SealingKey {
  /** Public, derived from the secret: tells `open` which key sealed a value. */
  id: Buffer
  key: Buffer
}

/** Seals and opens store values, and names store keys, with a ring of configured secrets. */
export class Sealer {
  private readonly ring: SealingKey[]
  private readonly namingKey: Buffer

  /**
   * @param secretKeys The key ring, newest first: the first seals and names keys, all open.
   *   Each at least 32 characters (`openssl rand -base64 32` makes one).
   * @param path Where the ring is configured, for error messages.
   */
  constructor(secretKeys: readonly string[], path = 'options.store.secretKeys') {
    // Checked although typed: the ring comes from configuration, maybe untyped JavaScript.
    if (!isArray(secretKeys) || secretKeys.length === 0) {
      throw new TypeError(`${path} must hold at least one secret of ${MIN_SECRET_LENGTH} characters or more`)
    }
    this.ring = secretKeys.map((secret, i) => {
      checkSecret(`${path}[${i}]`, secret)
      return { id: derive(secret, 'seal key id', ID_BYTES), key: derive(secret, 'seal key', 32) }
    })
    this.namingKey = derive(secretKeys[0]!, 'store key names', 32)
  }

  /** `plaintext` encrypted and authenticated with the first key, bound to the store key `keyName`. */
  seal(keyName: string, plaintext: Buffer): Buffer {
    const { id, key } = this.ring[0]!
    const header = Buffer.alloc(HEADER_BYTES)
    header.writeUInt8(VERSION, 0)
    id.copy(header, 1)
    randomBytes(IV_BYTES).copy(header, 1 + ID_BYTES)
    const cipher = createCipheriv('aes-256-gcm', key, header.subarray(1 + ID_BYTES), { authTagLength: TAG_BYTES })
    cipher.setAAD(associatedData(header, keyName))
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
    return Buffer.concat([header, ciphertext, cipher.getAuthTag()])
  }

  /**
   * The plaintext of a value sealed for `keyName` by any key of the ring, or
   * `undefined` for anything else: malformed, truncated, altered, sealed for
   * another key name, or by a key no longer in the ring. Never throws; the
   * caller logs and ignores the value.
   */
  open(keyName: string, sealed: Buffer | undefined): Buffer | undefined {
    if (!Buffer.isBuffer(sealed) || sealed.length < HEADER_BYTES + TAG_BYTES) return undefined
    if (sealed.readUInt8(0) !== VERSION) return undefined
    const header = sealed.subarray(0, HEADER_BYTES)
    const id = header.subarray(1, 1 + ID_BYTES)
    const iv = header.subarray(1 + ID_BYTES)
    const ciphertext = sealed.subarray(HEADER_BYTES, sealed.length - TAG_BYTES)
    const tag = sealed.subarray(sealed.length - TAG_BYTES)
    // Ids are 32 bits: two ring keys may share one, so try each that matches.
    for (const { key } of this.ring.filter((candidate) => candidate.id.equals(id))) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES })
        decipher.setAAD(associatedData(header, keyName))
        decipher.setAuthTag(tag)
        return Buffer.concat([decipher.update(ciphertext), decipher.final()])
      } catch {
        // Not authentic under this key: try the next one, if any.
      }
    }
    return undefined
  }

  /**
   * The store key for an entry: `{purpose}:{HMAC-SHA256 of purpose and parts, base64url}`.
   * Stable for a given first secret, so every instance computes the same one;
   * reveals nothing of `parts` (an email, a session id). The purpose stays
   * readable so that an operator can tell entries apart.
   *
   * Replacing the first secret changes every name: shared entries start empty
   * once (caches refill, counters restart).
   *
   * @param purpose lowercase letters, digits and `-`, starting with a letter (`widget-token`).
   */
  storeKey(purpose: string, ...parts: string[]): string {
    if (typeof purpose !== 'string' || !/^[a-z][a-z0-9-]{0,31}$/.test(purpose)) {
      throw new TypeError(`store key purpose must be 1 to 32 of a-z, 0-9 and '-', starting with a letter`)
    }
    // A JSON array keeps ('a:b', 'c') and ('a', 'b:c') apart.
    const mac = createHmac('sha256', this.namingKey)
      .update(JSON.stringify([purpose, ...parts]))
      .digest('base64url')
    return `${purpose}:${mac}`
  }
}

// Array.isArray would narrow a readonly string[] to any[].
function isArray(value: unknown): boolean {
  return Array.isArray(value)
}

function checkSecret(path: string, secret: unknown): void {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    const got = typeof secret === 'string' ? `${secret.length} characters` : typeof secret
    throw new TypeError(
      `${path} must be a secret of at least ${MIN_SECRET_LENGTH} characters, got ${got} ` +
        '(make one with: openssl rand -base64 32)',
    )
  }
}

function derive(secret: string, info: string, bytes: number): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, SALT, info, bytes))
}

function associatedData(header: Buffer, keyName: string): Buffer {
  return Buffer.concat([header.subarray(0, 1 + ID_BYTES), Buffer.from(keyName, 'utf8')])
}
