/**
 * Writing a page out of order: the page's own content goes at once, each
 * directive that has not settled yet held by a slot of its final size; then
 * each directive's HTML as it settles, in settle order, inside a `<template>`
 * with a call that moves it into its slot (see `mover.ts`); then the end of
 * the document. No vendor holds back any of the page's own content, and the
 * whole page takes as long as its slowest directive, as in document order.
 */
import { setImmediate as macrotask } from 'node:timers/promises'
import { marksIn, withOnce, type Mark, type PageDirective } from './directives.ts'
import { moved, moverDefinition, slot, slotKey } from './mover.ts'

/** The page out of order. `nonce` is the page's CSP nonce: the mover's scripts carry it. */
export async function* inSettleOrder(
  html: string,
  id: string | undefined,
  nonce: string,
  directives: readonly PageDirective[],
): AsyncGenerator<string> {
  const marks = marksIn(html, id)
  if (id === undefined || !marks.length) {
    yield html
    return
  }
  // Embeds with no I/O to wait for (fallbacks of an anonymous page, lazy
  // frames) settle within the current turn: inline them, slots are for vendors.
  await macrotask()
  const waiting = marks.filter((m) => directives[m.index] && !directives[m.index]?.settled).map((m) => m.index)
  const cut = contentEnd(html, marks)
  const emitted = new Set<string>()
  yield await ownContent(html.slice(0, cut), marks, id, directives, new Set(waiting), emitted)
  if (waiting.length) yield moverDefinition(nonce)
  for await (const index of settleOrder(waiting, directives)) {
    yield moved(slotKey(id, index), withOnce(directives[index]?.settled, emitted), nonce)
  }
  if (cut < html.length) yield html.slice(cut)
}

/**
 * The page's own content with its directives in place: settled ones inlined,
 * the others as slots (whose no-script fallbacks are rendered first).
 */
async function ownContent(
  content: string,
  marks: readonly Mark[],
  id: string,
  directives: readonly PageDirective[],
  waiting: ReadonlySet<number>,
  emitted: Set<string>,
): Promise<string> {
  const fallbacks = new Map(
    await Promise.all([...waiting].map(async (i) => [i, (await directives[i]?.fallback()) ?? ''] as const)),
  )
  let out = ''
  let last = 0
  for (const mark of marks) {
    out += content.slice(last, mark.start)
    const directive = directives[mark.index]
    out += waiting.has(mark.index)
      ? slot(slotKey(id, mark.index), height(directive), fallbacks.get(mark.index) ?? '')
      : withOnce(directive?.settled, emitted)
    last = mark.end
  }
  return out + content.slice(last)
}

/** A slot's height in whole CSS pixels; an adapter's answer is checked, it goes into a style attribute. */
function height(directive: PageDirective | undefined): number | undefined {
  const value = directive?.slot?.height
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.ceil(value) : undefined
}

/**
 * Where the page's own content ends: at its last `</body>` after every
 * directive, the HTML that arrives later goes before it (where a browser
 * would put it anyway); without one, at the end of the document.
 */
function contentEnd(html: string, marks: readonly Mark[]): number {
  const end = html.toLowerCase().lastIndexOf('</body')
  const lastMark = marks.at(-1)?.end ?? 0
  return end >= lastMark ? end : html.length
}

/** The indices of `waiting` as their directives settle, first settled first. */
async function* settleOrder(waiting: readonly number[], directives: readonly PageDirective[]): AsyncGenerator<number> {
  const settled: number[] = []
  let wake: (() => void) | undefined
  for (const index of waiting) {
    void directives[index]?.embed.then(() => {
      settled.push(index)
      wake?.()
    })
  }
  for (let left = waiting.length; left > 0; left--) {
    while (!settled.length) await new Promise<void>((resolve) => (wake = resolve))
    yield settled.shift() as number
  }
}
