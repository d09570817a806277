/**
 * What the kit scans: labelled pieces of text — everything a browser context sent, received and kept
 * (the recorder's), what the vendor stubs received from browsers, the server's log lines, the files of a
 * build — and the helpers that turn each source into entries.
 */
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import type { ReceivedRequest } from '../stubs/http.ts'
import type { StubWitness } from '../stubs/witness.ts'

/** What an entry is, and so which rules apply to a value found in it. */
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
  /** What it is: decides where a token may be. */
  kind: EntryKind
  /** Where it was, for failure messages: `GET http://…/ (200) → response body`, `cookie sid (…)`, `dist/…`. */
  where: string
  /** The request's, response's, socket's or frame's URL. */
  url?: string
  /** Header name (lower case), cookie name or storage key. */
  name?: string
  /** Playwright's resource type of the request or response (`document`, `fetch`, …). */
  resourceType?: string
  /**
   * Whose browser it came from: the label of the recorder (a session), or for a stub's entry the label its
   * request's User-Agent carried; unset for log lines, files and requests of frames that carried no label.
   */
  context?: string
  /** The recorded text itself: what the checks scan. */
  text: string
}

const USER_AGENT_TAG = /\(eta-embeds-kit; ([^)]+)\)/

/**
 * A User-Agent that names a recorded context, so that a vendor stub can tell whose browser sent the
 * requests it received (`label` may not hold `)`).
 */
export function taggedUserAgent(label: string): string {
  if (label.includes(')')) throw new Error(`taggedUserAgent: a label may not contain ')': ${JSON.stringify(label)}`)
  return `Mozilla/5.0 (eta-embeds-kit; ${label}) Chrome`
}

/** One request a stub received, as entries: its URL, each header, its body. */
function requestEntries(witness: StubWitness, request: ReceivedRequest, from: string, context?: string): Entry[] {
  const url = `${witness.url}${request.path}`
  const label = `${witness.vendor} stub received ${request.method} ${request.path} from ${from}`
  const search = new URLSearchParams(request.query).toString()
  const common = { url, ...(context === undefined ? {} : { context }) }
  const entries: Entry[] = [
    { kind: 'request url', where: `${label} → URL`, ...common, text: search ? `${url}?${search}` : url },
  ]
  for (const [name, value] of Object.entries(request.headers)) {
    entries.push({ kind: 'request header', where: `${label} → header ${name}`, ...common, name, text: value })
  }
  if (request.body) entries.push({ kind: 'request body', where: `${label} → body`, ...common, text: request.body })
  return entries
}

/** A browser sends `sec-fetch-*` headers; the server's own calls to a vendor do not. */
const fromBrowser = (request: ReceivedRequest): boolean => request.headers['sec-fetch-mode'] !== undefined

/**
 * What a vendor stub received from browsers (not the server's own calls) since its `from`-th request, as
 * entries: a second witness, on the wire, for traffic the recorder can miss. Chromium runs a sandboxed
 * `srcdoc` frame out of process, and Playwright misses the requests of one that starts before it has
 * attached (those also lack the context's User-Agent: their `context` is unset).
 */
export function witnessEntries(witness: StubWitness, from = 0): Entry[] {
  return witness
    .received()
    .slice(from)
    .filter(fromBrowser)
    .flatMap((request) => {
      const context = USER_AGENT_TAG.exec(request.headers['user-agent'] ?? '')?.[1]
      return requestEntries(witness, request, context ?? 'an untagged frame', context)
    })
}

/** What the server itself sent a vendor's stub since its `from`-th request, as entries (no `context`). */
export function serverEntries(witness: StubWitness, from = 0): Entry[] {
  return witness
    .received()
    .slice(from)
    .filter((request) => !fromBrowser(request))
    .flatMap((request) => requestEntries(witness, request, 'the server'))
}

/** The server's log lines as entries (`from`: the number of the first line, for messages). */
export function logEntries(lines: readonly string[], from = 0): Entry[] {
  return lines.map((text, index) => ({ kind: 'log', where: `server log line ${from + index + 1}`, text }))
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
