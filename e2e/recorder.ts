/**
 * The leak suite's recorder (SPEC invariants 1 and 2): everything a browser
 * context sends, receives and keeps, as labelled text entries — plus the
 * server's log lines and the files under `dist/` — and `scan()`, which finds
 * a value anywhere in them, raw or in the encodings a leak would wear.
 */
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import type { BrowserContext, ConsoleMessage, Dialog, Page, Request, Response, WebError } from '@playwright/test'
import type { ReceivedRequest } from '../stubs/index.ts'

export type EntryKind =
  | 'request url'
  | 'request header'
  | 'request body'
  | 'response header'
  | 'response body'
  | 'websocket url'
  | 'websocket sent'
  | 'websocket received'
  | 'console'
  | 'page error'
  | 'dialog'
  | 'cookie'
  | 'storage'
  | 'dom'
  | 'log'
  | 'file'

/** One recorded piece of text and where it was. */
export interface Entry {
  kind: EntryKind
  /** Where it was, for failure messages: `GET http://…/ → response body`, `cookie sid`, `dist/…`. */
  where: string
  /** The request's, response's, socket's or frame's URL. */
  url?: string
  /** Header name (lower case), cookie name or storage key. */
  name?: string
  /** Playwright's resource type of the request or response (`document`, `fetch`, …). */
  resourceType?: string
  /** For a stub's witness entries: the recorder whose User-Agent tag the request carried. */
  context?: string
  text: string
}

/** One place a needle was found, and in which encoding. */
export interface Found {
  entry: Entry
  encoding: string
  /** A few characters around the match. */
  excerpt: string
}

/**
 * Attaches to a context before its first page opens and records every
 * request (URL, all headers, body), response (all headers, body when the
 * browser still has it), WebSocket frame both ways, console message, page
 * error and dialog (dismissed). `finish()` adds every cookie, every storage
 * entry and every frame's DOM.
 */
export class Recorder {
  readonly entries: Entry[] = []
  /** What could not be read, and why: bodies of redirects, storage of opaque-origin frames. */
  readonly skipped: string[] = []
  /** Frames whose localStorage and sessionStorage were read (empty or not). */
  storageFramesRead = 0
  private readonly pending = new Set<Promise<void>>()
  private readonly detach: (() => void)[] = []
  private listening = true

  constructor(
    readonly label: string,
    private readonly context: BrowserContext,
  ) {
    this.on('request', (request: Request) => this.track(this.request(request)))
    this.on('response', (response: Response) => this.track(this.response(response)))
    this.on('console', (message: ConsoleMessage) => this.console(message))
    this.on('weberror', (error: WebError) => {
      const { message, stack } = error.error()
      this.add({ kind: 'page error', where: `page error on ${error.page()?.url() ?? '?'}`, text: stack ?? message })
    })
    this.on('dialog', (dialog: Dialog) => {
      this.add({
        kind: 'dialog',
        where: `${dialog.type()} dialog on ${dialog.page()?.url() ?? '?'}`,
        text: dialog.message(),
      })
      // Nothing may stay blocked on a dialog; a test asserts there was none.
      this.track(dialog.dismiss())
    })
    this.on('page', (page: Page) => this.page(page))
    for (const page of context.pages()) this.page(page)
  }

  /** Entries of one kind. */
  of(kind: EntryKind): Entry[] {
    return this.entries.filter((entry) => entry.kind === kind)
  }

  /** Waits for every body and header read started so far (and those they start). */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending])
  }

  /**
   * Stops recording events, then takes a last `snapshot()` of every open
   * page. Returns all entries.
   */
  async finish(): Promise<Entry[]> {
    await this.settle()
    this.listening = false
    for (const off of this.detach.splice(0)) off()
    await this.snapshot()
    return this.entries
  }

  /**
   * Adds what the context keeps now: every cookie, `storageState()` (localStorage
   * and IndexedDB of every origin), and for every frame of `page` (default:
   * every open page) its DOM and, where the frame's origin allows it, its
   * localStorage and sessionStorage. An opaque-origin frame (sandboxed without
   * allow-same-origin) throws on storage access: it is listed in `skipped`.
   */
  async snapshot(page?: Page): Promise<void> {
    for (const cookie of await this.context.cookies()) {
      this.add({
        kind: 'cookie',
        where: `cookie ${cookie.name} (${cookie.domain}${cookie.path})`,
        name: cookie.name,
        text: `${cookie.name}=${cookie.value}`,
      })
    }
    const state = await this.context.storageState({ indexedDB: true })
    for (const origin of state.origins) {
      for (const { name, value } of origin.localStorage) {
        this.add({ kind: 'storage', where: `localStorage of ${origin.origin}`, name, text: `${name}=${value}` })
      }
      // Whatever else the snapshot holds for the origin (IndexedDB), as one entry.
      const rest = Object.entries(origin).filter(([key]) => key !== 'origin' && key !== 'localStorage')
      if (rest.length > 0) {
        this.add({ kind: 'storage', where: `storage state of ${origin.origin}`, text: JSON.stringify(rest) })
      }
    }
    for (const each of page ? [page] : this.context.pages()) await this.frames(each)
  }

  private async frames(page: Page): Promise<void> {
    for (const frame of page.frames()) {
      const url = frame.url()
      const where = frame === page.mainFrame() ? `top frame ${url}` : `frame ${url}`
      this.add({ kind: 'dom', where: `DOM of ${where}`, url, text: await frame.content() })
      try {
        const stores = await frame.evaluate(() => ({
          local: Object.entries(window.localStorage),
          session: Object.entries(window.sessionStorage),
        }))
        this.storageFramesRead++
        for (const [store, pairs] of Object.entries(stores)) {
          for (const [name, value] of pairs) {
            this.add({ kind: 'storage', where: `${store}Storage of ${where}`, url, name, text: `${name}=${value}` })
          }
        }
      } catch (error) {
        const reason = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error)
        this.skipped.push(`storage of ${where}: ${reason}`)
      }
    }
  }

  private on(event: string, listener: (arg: never) => void): void {
    const context = this.context as unknown as {
      on(e: string, l: (arg: never) => void): void
      off(e: string, l: (arg: never) => void): void
    }
    context.on(event, listener)
    this.detach.push(() => context.off(event, listener))
  }

  private add(entry: Entry): void {
    this.entries.push(entry)
  }

  private track(work: Promise<unknown>): void {
    const done = work.then(
      () => undefined,
      (error: unknown) => {
        this.skipped.push(`recorder: ${error instanceof Error ? error.message : String(error)}`)
      },
    )
    this.pending.add(done)
    void done.finally(() => this.pending.delete(done))
  }

  private async request(request: Request): Promise<void> {
    const label = `${request.method()} ${request.url()}`
    const common = { url: request.url(), resourceType: request.resourceType() }
    this.add({ kind: 'request url', where: `${label} → URL`, ...common, text: request.url() })
    const body = request.postDataBuffer()
    if (body)
      this.add({ kind: 'request body', where: `${label} → request body`, ...common, text: body.toString('utf8') })
    for (const [name, value] of Object.entries(await request.allHeaders())) {
      this.add({ kind: 'request header', where: `${label} → request header ${name}`, ...common, name, text: value })
    }
  }

  private async response(response: Response): Promise<void> {
    const request = response.request()
    const label = `${request.method()} ${response.url()} (${response.status()})`
    const common = { url: response.url(), resourceType: request.resourceType() }
    for (const [name, value] of Object.entries(await response.allHeaders())) {
      this.add({ kind: 'response header', where: `${label} → response header ${name}`, ...common, name, text: value })
    }
    if (response.status() >= 300 && response.status() < 400) {
      this.skipped.push(`${label}: a redirect has no body`)
      return
    }
    try {
      const body = await response.body()
      this.add({ kind: 'response body', where: `${label} → response body`, ...common, text: body.toString('utf8') })
    } catch (error) {
      this.skipped.push(`${label}: body unreadable (${error instanceof Error ? error.message : String(error)})`)
    }
  }

  private console(message: ConsoleMessage): void {
    const at = message.location().url || message.page()?.url() || '?'
    this.add({ kind: 'console', where: `console.${message.type()} at ${at}`, text: message.text() })
  }

  private page(page: Page): void {
    page.on('websocket', (socket) => {
      if (!this.listening) return
      const url = socket.url()
      this.add({ kind: 'websocket url', where: `WebSocket ${url} → URL`, url, text: url })
      socket.on('framesent', ({ payload }) => {
        if (this.listening)
          this.add({ kind: 'websocket sent', where: `WebSocket ${url} → frame sent`, url, text: String(payload) })
      })
      socket.on('framereceived', ({ payload }) => {
        if (this.listening)
          this.add({
            kind: 'websocket received',
            where: `WebSocket ${url} → frame received`,
            url,
            text: String(payload),
          })
      })
    })
  }
}

/** A User-Agent for a recorded context that names it, so a stub can tell whose requests it received. */
export function taggedUserAgent(label: string): string {
  return `Mozilla/5.0 (e2e-recorder; ${label}) Chrome`
}

const USER_AGENT_TAG = /\(e2e-recorder; ([^)]+)\)/

/**
 * What a vendor stub received from browsers (not the server's own calls, which send no `sec-fetch-*`),
 * as entries: a second witness, on the wire, for the traffic of the sandboxed widget frames.
 * Chromium runs a sandboxed `srcdoc` frame out of process, and Playwright misses the requests of one
 * that starts before it has attached (they also lack the context's User-Agent: `context` is then unset).
 */
export function stubEntries(vendor: string, baseUrl: string, received: readonly ReceivedRequest[]): Entry[] {
  const entries: Entry[] = []
  for (const request of received) {
    if (request.headers['sec-fetch-mode'] === undefined) continue
    const context = USER_AGENT_TAG.exec(request.headers['user-agent'] ?? '')?.[1]
    const url = `${baseUrl}${request.path}`
    const label = `${vendor} stub received ${request.method} ${request.path} from ${context ?? 'an untagged frame'}`
    const search = new URLSearchParams(request.query).toString()
    const common = { url, ...(context === undefined ? {} : { context }) }
    entries.push({ kind: 'request url', where: `${label} → URL`, ...common, text: search ? `${url}?${search}` : url })
    for (const [name, value] of Object.entries(request.headers)) {
      entries.push({ kind: 'request header', where: `${label} → header ${name}`, ...common, name, text: value })
    }
    if (request.body) entries.push({ kind: 'request body', where: `${label} → body`, ...common, text: request.body })
  }
  return entries
}

/** The server's log lines as entries. */
export function logEntries(lines: readonly string[]): Entry[] {
  return lines.map((text, index) => ({ kind: 'log', where: `server log line ${index + 1}`, text }))
}

/** Every file under `dir` (recursively, dot folders and `.map` files included) as entries. */
export async function fileEntries(dir: string): Promise<Entry[]> {
  const entries: Entry[] = []
  for (const dirent of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!dirent.isFile()) continue
    const file = path.join(dirent.parentPath, dirent.name)
    entries.push({ kind: 'file', where: path.relative(path.dirname(dir), file), text: await readFile(file, 'utf8') })
  }
  return entries
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
const htmlEscape = (value: string) => value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c)
const htmlNumericEscape = (value: string) => value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
const jsonEscape = (value: string) => JSON.stringify(value).slice(1, -1)
/** JSON that is safe in an inline script: `<`, `>`, `&`, `'`, U+2028/9 as `\uXXXX`. */
const scriptEscape = (value: string) =>
  jsonEscape(value).replace(/[<>&'\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

/**
 * The base64 of `needle` as it appears inside the base64 of a longer text:
 * one variant per alignment (0, 1 or 2 bytes before it), without the
 * characters its neighbours share.
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

/** The forms a value takes in the places a leak would put it, by name. */
export function encodings(needle: string): { name: string; value: string }[] {
  if (needle.length < 8) throw new Error(`scan: needle ${JSON.stringify(needle)} is too short to search for reliably`)
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

/** Every entry of `haystack` that holds `needle`, raw or encoded (see `encodings()`). */
export function scan(haystack: Iterable<Entry>, needle: string): Found[] {
  const forms = encodings(needle)
  const found: Found[] = []
  for (const entry of haystack) {
    for (const { name, value } of forms) {
      const at = entry.text.indexOf(value)
      if (at === -1) continue
      const excerpt = entry.text.slice(Math.max(0, at - 40), at + value.length + 40).replace(/\s+/g, ' ')
      found.push({ entry, encoding: name, excerpt })
      break
    }
  }
  return found
}

/** One line per place, for a failure message. */
export function describeFound(found: readonly Found[]): string[] {
  return found.map(({ entry, encoding, excerpt }) => `${entry.where} [${encoding}]: …${excerpt}…`)
}
