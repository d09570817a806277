/**
 * Widget pages built to make a pattern over vendor text backtrack (issue 9,
 * hole 2): about 1 MB each, under the runtime's 1 MiB answer cap, with the one
 * `token: ""` placeholder a valid page has, so the whole rewrite runs on them.
 * Used by the load suite (the server keeps answering) and by
 * `npm run bench:pages` (what the rewrite costs).
 */
export const HOSTILE_PAGE_SIZE = 1_000_000
const PLACEHOLDER = '<script>window.__WIDGET_INIT__ = { token: "" };</script>'

/** `unit` repeated up to about `HOSTILE_PAGE_SIZE` bytes around the one placeholder. */
export function widgetPageOf(unit: string, before = '<!doctype html>', after = ''): string {
  const room = HOSTILE_PAGE_SIZE - before.length - PLACEHOLDER.length - after.length
  return before + PLACEHOLDER + unit.repeat(Math.floor(room / unit.length)) + after
}

/** `[name, page]` pairs. */
export const HOSTILE_PAGES: [name: string, html: string][] = [
  ['many `<head` without `>`', widgetPageOf('<head')],
  ['many `<HEAD ` with attributes, no `>`', widgetPageOf('<HEAD a=1 ')],
  ['one `<head` with a 1 MB attribute and no `>`', widgetPageOf('a', '<!doctype html><head ')],
  ['many `<script` openings (each gets a nonce)', widgetPageOf('<script')],
  ['`token` followed by long whitespace runs', widgetPageOf(`token${' '.repeat(500)}:${' '.repeat(500)}`)],
  ['`token:` runs without the closing quotes', widgetPageOf('token: "token :"')],
  ['`tokentoken…` without boundaries', widgetPageOf('token')],
  ['unclosed tags, quotes and comments', widgetPageOf('<!--<a href="<base')],
]
