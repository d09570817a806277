/**
 * Development: Vite's client in each page `ctx.render()` sends, carrying the
 * page's nonce, so the page reloads on a template edit and shows Vite's
 * overlay — as `transformIndexHtml` would put it in a page Vite served.
 */
import path from 'node:path'
import { escapeHtml } from '../encode.ts'

/**
 * The tags: Vite's client, and the `csp-nonce` meta from which Vite's
 * client and preload helper take the nonce for the styles and links they add.
 */
export function viteClientTags(nonce: string, base: string): string {
  const n = escapeHtml(nonce)
  const src = escapeHtml(path.posix.join(base, '@vite/client'))
  return `<meta property="csp-nonce" nonce="${n}"><script type="module" nonce="${n}" src="${src}"></script>`
}

const HEAD_OPEN = /<head(?=[\s/>])/i
const DOCTYPE = /^\s*<!doctype[^>]*>/i

/**
 * `html` (a page's first chunk) with `tags` at the start of its `<head>`;
 * without one, after the doctype, or first. Each search is one linear pass:
 * the page's text is the app's, and may quote its data.
 */
export function insertIntoHead(html: string, tags: string): string {
  const head = HEAD_OPEN.exec(html)
  const close = head ? html.indexOf('>', head.index) : -1
  const at = close >= 0 ? close + 1 : (DOCTYPE.exec(html)?.[0].length ?? 0)
  return `${html.slice(0, at)}${tags}${html.slice(at)}`
}

/** `chunks` with `tags` put into the first one with any text (see `insertIntoHead`). */
export async function* withTagsInHead(chunks: AsyncIterable<string>, tags: string): AsyncGenerator<string> {
  let done = false
  for await (const chunk of chunks) {
    if (done || chunk.trim() === '') {
      yield chunk
      continue
    }
    done = true
    yield insertIntoHead(chunk, tags)
  }
  if (!done) yield tags
}
