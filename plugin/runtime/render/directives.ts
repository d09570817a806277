/**
 * What a render knows of the directives it met, shared by both ways of
 * writing the page out: the marks the template's text holds where they
 * stand, and each directive's embed as it settles.
 */
import type { Embed, SlotSize } from '../../vendors/define.ts'

/** One directive of a render, from where it stands to the HTML it settles to. */
export interface PageDirective {
  /** Its HTML once settled: the embed, or — on any failure — its fallback. Never rejects. */
  readonly embed: Promise<Embed>
  /** What `embed` settled to, once it has. */
  settled: Embed | undefined
  /** The room its embed takes in the page, when its adapter can tell. */
  readonly slot: SlotSize | undefined
  /** Its fallback partial (or nothing), for a browser that runs no script. Never rejects. */
  readonly fallback: () => Promise<string>
}

// A mark: NUL, the render's random id, the directive's index, NUL.
// eslint-disable-next-line no-control-regex -- NUL delimits marks, by design
const MARK = /\u0000([0-9a-f]{24}):(\d+)\u0000/g

/** The text a directive leaves in the template's output where it stands. */
export function mark(id: string, index: number): string {
  return `\u0000${id}:${index}\u0000`
}

/** Where a directive stands in the template's output. */
export interface Mark {
  start: number
  end: number
  index: number
}

/**
 * This render's marks in `html`, in document order. Only this render's: its
 * id is random, so text from the template's data can never pose as one.
 */
export function marksIn(html: string, id: string | undefined): Mark[] {
  if (id === undefined) return []
  const out: Mark[] = []
  for (const match of html.matchAll(MARK)) {
    if (match[1] !== id) continue
    out.push({ start: match.index, end: match.index + match[0].length, index: Number(match[2]) })
  }
  return out
}

/** An embed's HTML, followed by its once-per-page HTML the first time the page asks for it. */
export function withOnce(embed: Embed | undefined, emitted: Set<string>): string {
  let out = embed?.html ?? ''
  if (embed?.once && !emitted.has(embed.once.key)) {
    emitted.add(embed.once.key)
    out += embed.once.html
  }
  return out
}

/** Records, on the directive itself, what its embed settled to. */
export function tracked(directive: Omit<PageDirective, 'settled'>): PageDirective {
  const out: PageDirective = { ...directive, settled: undefined }
  void directive.embed.then((embed) => {
    out.settled = embed
  })
  return out
}
