/**
 * The recorder: everything a browser context sends, receives and keeps, as labelled text entries, each
 * tagged with the recorder's label — requests (URL, every header, body), responses (every header, body),
 * WebSocket frames both ways, console messages, page errors, dialogs, and on `snapshot()` cookies, storage
 * and every frame's DOM.
 */
import type { BrowserContext, ConsoleMessage, Dialog, Page, Request, Response, WebError } from '@playwright/test'
import type { Entry, EntryKind } from './entries.ts'

/** One response as received: what the token-page checks read. */
export interface RecordedResponse {
  /** `GET http://…/ (200)`, for messages. */
  where: string
  /** Its URL (after redirects, the one that answered). */
  url: string
  /** Its HTTP status. */
  status: number
  /** Playwright's resource type of its request (`document` for a page or a frame's document). */
  resourceType: string
  /** Every header, names in lower case. */
  headers: Record<string, string>
  /** The body as UTF-8; unset for a redirect or a body the browser no longer had. */
  body?: string
  /** The recorder's label. */
  context: string
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
  /** Every response, headers and body together. */
  readonly responses: RecordedResponse[] = []
  /** What could not be read, and why: bodies of redirects, storage of opaque-origin frames. */
  readonly skipped: string[] = []
  /** Frames whose localStorage and sessionStorage were read (empty or not). */
  storageFramesRead = 0
  private readonly pending = new Set<Promise<void>>()
  private readonly detach: (() => void)[] = []
  private listening = true

  /**
   * @param label names the context in every entry (`context`) and in failure messages; give its
   *   `newContext()` the `userAgent: taggedUserAgent(label)` so that the vendor stubs can name it too.
   * @param context a context with no page open yet (pages opened before are watched, but not their past).
   */
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
   * page. Returns all entries; once finished, only returns them.
   */
  async finish(): Promise<Entry[]> {
    await this.settle()
    if (!this.listening) return this.entries
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

  private add(entry: Omit<Entry, 'context'>): void {
    this.entries.push({ ...entry, context: this.label })
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
    const headers = await response.allHeaders()
    for (const [name, value] of Object.entries(headers)) {
      this.add({ kind: 'response header', where: `${label} → response header ${name}`, ...common, name, text: value })
    }
    const recorded: RecordedResponse = {
      where: label,
      ...common,
      status: response.status(),
      headers,
      context: this.label,
    }
    this.responses.push(recorded)
    if (response.status() >= 300 && response.status() < 400) {
      this.skipped.push(`${label}: a redirect has no body`)
      return
    }
    try {
      recorded.body = (await response.body()).toString('utf8')
      this.add({ kind: 'response body', where: `${label} → response body`, ...common, text: recorded.body })
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
