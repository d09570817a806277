/**
 * Finding a value in recorded text, raw or in any encoding a leak would wear (URL, JSON, HTML, base64 at
 * every alignment), and saying where without repeating it: every excerpt has the value masked.
 */
import type { Entry } from './entries.ts'

/** One place a value was found. */
export interface Found {
  /** The entry that holds it. */
  entry: Entry
  /** `entry.where` with the value masked: a URL in it may hold the value too. */
  where: string
  /** The form it had there: `raw`, `encodeURIComponent`, `JSON-escaped`, `base64 (offset 1)`, … */
  encoding: string
  /** About 40 characters either side, whitespace collapsed, the value itself (in any form) masked. */
  excerpt: string
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
const htmlEscape = (value: string) => value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c)
const htmlNumericEscape = (value: string) => value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
const jsonEscape = (value: string) => JSON.stringify(value).slice(1, -1)
/** JSON that is safe in an inline script: `<`, `>`, `&`, `'`, U+2028/9 as `\uXXXX`. */
const scriptEscape = (value: string) =>
  jsonEscape(value).replace(/[<>&'\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

/**
 * The base64 of `needle` as it appears inside the base64 of a longer text: one variant per alignment
 * (0, 1 or 2 bytes before it), without the characters its neighbours share.
 */
function base64Fragments(needle: string): string[] {
  const bytes = Buffer.from(needle, 'utf8')
  return [0, 1, 2].map((offset) => {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64')
    const first = Math.ceil((offset * 8) / 6)
    const last = Math.floor(((offset + bytes.length) * 8) / 6)
    return encoded.slice(first, last)
  })
}

/**
 * The forms a value takes in the places a leak would put it, by name. Throws for a value shorter than 8
 * characters: it would be found by chance.
 */
export function encodings(needle: string): { name: string; value: string }[] {
  if (needle.length < 8) throw new Error(`scan: a value of ${needle.length} characters is too short to search for`)
  const forms: { name: string; value: string }[] = [
    { name: 'raw', value: needle },
    { name: 'encodeURIComponent', value: encodeURIComponent(needle) },
    { name: 'JSON-escaped', value: jsonEscape(needle) },
    { name: 'script-escaped JSON', value: scriptEscape(needle) },
    { name: 'HTML-escaped', value: htmlEscape(needle) },
    { name: 'HTML-escaped (numeric)', value: htmlNumericEscape(needle) },
    { name: 'HTML-escaped JSON', value: htmlEscape(jsonEscape(needle)) },
    { name: 'HTML-escaped script JSON', value: htmlEscape(scriptEscape(needle)) },
  ]
  base64Fragments(needle).forEach((value, offset) => {
    forms.push({ name: `base64 (offset ${offset})`, value })
    forms.push({ name: `base64url (offset ${offset})`, value: value.replaceAll('+', '-').replaceAll('/', '_') })
  })
  const seen = new Set<string>()
  return forms.filter(({ value }) => !seen.has(value) && seen.add(value))
}

const CONTEXT = 40

/**
 * `text` around `[at, at + length)`, with every occurrence of any form that touches the window replaced
 * by `⟦label⟧`, the window widened so that no part of one is cut at its edge.
 */
function maskedExcerpt(text: string, at: number, length: number, forms: readonly string[], label: string): string {
  let start = Math.max(0, at - CONTEXT)
  let end = Math.min(text.length, at + length + CONTEXT)
  const longest = Math.max(...forms.map((form) => form.length))
  const ranges: [number, number][] = []
  for (const form of forms) {
    for (let i = text.indexOf(form, Math.max(0, start - longest)); i !== -1 && i < end; i = text.indexOf(form, i + 1)) {
      if (i + form.length > start) ranges.push([i, i + form.length])
    }
  }
  ranges.sort((a, b) => a[0] - b[0])
  // A form cut by the window's edge would show part of the value: take all of it, to mask it.
  for (const [from, to] of ranges) {
    start = Math.min(start, from)
    end = Math.max(end, to)
  }
  let out = ''
  let cursor = start
  for (const [from, to] of ranges) {
    if (from >= cursor) out += `${text.slice(cursor, from)}⟦${label}⟧`
    cursor = Math.max(cursor, to)
  }
  out += text.slice(cursor, end)
  return out.replace(/\s+/g, ' ')
}

/** `text` with every form of each of `needles` replaced by `⟦label⟧`. */
export function maskAll(text: string, needles: readonly string[], label: string): string {
  const values = needles.flatMap((needle) => encodings(needle).map((form) => form.value))
  values.sort((a, b) => b.length - a.length)
  return values.reduce((masked, value) => masked.replaceAll(value, `⟦${label}⟧`), text)
}

/**
 * Every entry of `haystack` that holds `needle`, raw or encoded (see `encodings()`), with an excerpt in
 * which `needle` reads `⟦label⟧`.
 */
export function scan(haystack: Iterable<Entry>, needle: string, label = 'value'): Found[] {
  const forms = encodings(needle)
  const values = forms.map((form) => form.value)
  const found: Found[] = []
  for (const entry of haystack) {
    for (const { name, value } of forms) {
      const at = entry.text.indexOf(value)
      if (at === -1) continue
      const excerpt = maskedExcerpt(entry.text, at, value.length, values, label)
      found.push({ entry, where: maskAll(entry.where, [needle], label), encoding: name, excerpt })
      break
    }
  }
  return found
}

/** One line per place: `GET http://…/track?t=⟦token⟧ → URL [raw]: …/track?t=⟦token⟧…`. */
export function describeFound(found: readonly Found[]): string[] {
  return found.map(({ where, encoding, excerpt }) => `${where} [${encoding}]: …${excerpt}…`)
}
