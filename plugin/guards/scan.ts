/**
 * Finds secrets in build output, as written and in the encodings a bundler,
 * a source map or an app's own code would put them in. Pure: bytes in, hits out.
 */
import type { Secret } from './secrets.ts'

/** How a secret was written where it was found. */
export type Encoding = 'raw' | 'JSON-escaped' | 'JS-escaped' | 'URL-encoded' | 'base64' | 'base64url' | 'hex'

/** One byte sequence to look for, and what it means when found. */
export interface Needle {
  label: string
  encoding: Encoding
  bytes: Buffer
}

/** A secret found: which one (by label, never by value) and how it was written. */
export interface Hit {
  label: string
  encoding: Encoding
}

/**
 * The textual forms: as is, escaped inside a JSON or JS string literal (once,
 * and twice for JSON inside a string, such as a source map's `sourcesContent`
 * embedded in code), and percent-encoded.
 */
function textForms(value: string): [Encoding, string][] {
  const json = JSON.stringify(value).slice(1, -1)
  return [
    ['raw', value],
    ['JSON-escaped', json],
    ['JSON-escaped', json.replaceAll('/', '\\/')],
    ['JSON-escaped', JSON.stringify(json).slice(1, -1)],
    ['JS-escaped', value.replace(/[\\'`]/g, '\\$&').replaceAll('${', '\\${')],
    ['URL-encoded', encodeURIComponent(value)],
    ['URL-encoded', new URLSearchParams({ v: value }).toString().slice(2)],
  ]
}

/**
 * The base64 characters that encode `bytes` wherever they sit in a longer
 * base64 text (an inline source map is base64 of a whole JSON document): for
 * each of the 3 byte alignments, only the characters made of `bytes`' bits alone.
 */
function base64Fragments(bytes: Buffer, alphabet: 'base64' | 'base64url'): string[] {
  const fragments: string[] = []
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString(alphabet)
    fragments.push(encoded.slice(Math.ceil((8 * offset) / 6), Math.floor((8 * (offset + bytes.length)) / 6)))
  }
  return fragments
}

/** Every byte sequence that gives `secret` away, the plainest form first. */
export function needlesFor(secret: Secret): Needle[] {
  const needles: Needle[] = []
  const seen = new Set<string>()
  const add = (encoding: Encoding, text: string): void => {
    if (seen.has(text)) return
    seen.add(text)
    needles.push({ label: secret.label, encoding, bytes: Buffer.from(text) })
  }
  const forms = textForms(secret.value)
  for (const [encoding, text] of forms) add(encoding, text)
  for (const alphabet of ['base64', 'base64url'] as const) {
    for (const [, text] of forms)
      for (const fragment of base64Fragments(Buffer.from(text), alphabet)) add(alphabet, fragment)
  }
  const hex = Buffer.from(secret.value).toString('hex')
  add('hex', hex)
  add('hex', hex.toUpperCase())
  return needles
}

/** The secrets in `content`: one hit per label, with the first (plainest) encoding found. */
export function findSecrets(content: string | Uint8Array, needles: readonly Needle[]): Hit[] {
  const haystack =
    typeof content === 'string'
      ? Buffer.from(content)
      : Buffer.from(content.buffer, content.byteOffset, content.byteLength)
  const hits: Hit[] = []
  const found = new Set<string>()
  for (const needle of needles) {
    if (found.has(needle.label) || !haystack.includes(needle.bytes)) continue
    found.add(needle.label)
    hits.push({ label: needle.label, encoding: needle.encoding })
  }
  return hits
}
