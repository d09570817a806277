/**
 * Writing a page out in document order: the text up to each directive at
 * once, then the directive as it settles. Simple and script-free, but
 * everything after a directive waits for that directive's vendor.
 */
import { marksIn, withOnce, type PageDirective } from './directives.ts'

/** The page in document order; HTML a vendor needs once follows the first directive that produced it. */
export async function* inDocumentOrder(
  html: string,
  id: string | undefined,
  directives: readonly PageDirective[],
): AsyncGenerator<string> {
  const emitted = new Set<string>()
  let last = 0
  for (const mark of marksIn(html, id)) {
    if (mark.start > last) yield html.slice(last, mark.start)
    yield withOnce(await directives[mark.index]?.embed, emitted)
    last = mark.end
  }
  if (last < html.length || last === 0) yield html.slice(last)
}
