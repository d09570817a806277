/**
 * The source map from a compiled template module back to the author's `.eta`
 * file (issue 13), so a stack trace through a template names the line and
 * column the author wrote. Pure: no I/O.
 *
 * Codegen leaves a mark (NUL and a letter) in the module text before each
 * piece of author code it copies: a tag's code, a directive's call, an
 * `{expression}`, the layout call. `withSourceMap` takes the marks out and,
 * for each, maps the code after it token by token — V8 reports the column of
 * a token (`.city` in `it.user.profile.city`), so the author gets that column.
 * Text and Eta's own helpers are not mapped: nothing there can throw.
 */
import { encode, type SourceMapSegment } from '@jridgewell/sourcemap-codec'
import type { LineMap } from './location.ts'
import type { Directive, Segment } from './parse.ts'

/** Before the code of each Eta tag, in source order. */
export const TAG_MARK = '\u0000T'
/** Before each directive's `__host.embed(` call, in source order. */
export const CALL_MARK = '\u0000D'
/** Before each `{expression}` attribute's code, in source order. */
export const EXPRESSION_MARK = '\u0000E'
/** Before Eta's call of the layout, at the end of the function. */
export const LAYOUT_MARK = '\u0000L'

// The parser refuses NUL in a template, and directives' own marks are gone by
// the time this runs: every NUL left is one of the marks above.
// eslint-disable-next-line no-control-regex -- NUL starts a mark, by design
const MARK = /\u0000([TDEL])/g

/** Author code copied verbatim into the module: where it starts in the source, and the code itself. */
export interface CodeSpan {
  offset: number
  code: string
}

/** What follows each mark, in the order the marks appear. */
export interface MarkTargets {
  /** The code of each tag; `start` is the offset of its `<%`, for the rest of its line. */
  tags: (CodeSpan & { start: number })[]
  /** Offset of each directive's `<<`. */
  calls: number[]
  expressions: CodeSpan[]
  /** Offset of the `layout(` call, when the template has one. */
  layout: number | undefined
}

/** A version 3 source map, as Vite and Rolldown take it from a transform. */
export interface TemplateSourceMap {
  version: 3
  sources: string[]
  sourcesContent: string[]
  names: string[]
  mappings: string
}

// What Eta's parser takes as a tag's code: after the opening (trim mark,
// prefix, blanks) and before the closing (blanks, trim mark).
const TAG_OPEN = /<%[-_]?\s*[=~]?\s*/y

/** Where the code after each of the module's marks comes from in the source. */
export function markTargets(segments: Segment[], directives: Directive[]): MarkTargets {
  const tags: MarkTargets['tags'] = []
  for (const s of segments) {
    if (s.kind !== 'eta') continue
    TAG_OPEN.lastIndex = 0
    const open = TAG_OPEN.test(s.text) ? TAG_OPEN.lastIndex : 2
    let end = s.text.length - 2
    if (end > open && (s.text[end - 1] === '-' || s.text[end - 1] === '_')) end--
    while (end > open && /\s/.test(s.text[end - 1] ?? '')) end--
    tags.push({ start: s.start, offset: s.start + open, code: s.text.slice(open, end) })
  }
  const expressions = directives.flatMap((d) =>
    d.attributes.flatMap((a): CodeSpan[] =>
      // The parser's offset is the attribute name's; its code starts after `name={`.
      a.value.kind === 'expression' ? [{ offset: a.offset + a.name.length + 2, code: a.value.code }] : [],
    ),
  )
  const layout = segments.find((s) => s.kind === 'eta' && LAYOUT_CALL.test(s.text))
  const layoutOffset = layout?.kind === 'eta' ? layout.start + (LAYOUT_CALL.exec(layout.text)?.index ?? 0) : undefined
  return { tags, calls: directives.map((d) => d.start), expressions, layout: layoutOffset }
}

const LAYOUT_CALL = /\blayout\s*\(/

/** `marked` without its marks, mapped to nothing: for checks of the code alone. */
export function withoutMarks(marked: string): string {
  return marked.replace(MARK, '')
}

/** `marked` without its marks, and the map from it to `map.source` (named `file`). */
export function withSourceMap(
  marked: string,
  targets: MarkTargets,
  map: LineMap,
  file: string,
): { code: string; map: TemplateSourceMap } {
  const out = new MappedOutput(map)
  const next = { T: 0, D: 0, E: 0 }
  let last = 0
  let span: CodeSpan | undefined
  for (const match of marked.matchAll(MARK)) {
    out.copy(marked.slice(last, match.index), span)
    last = match.index + match[0].length
    span = undefined
    const kind = match[1] as 'T' | 'D' | 'E' | 'L'
    if (kind === 'T') {
      const tag = targets.tags[next.T++]
      // The tag's line is its own: Eta's code before the tag's (`__eta.e(`) is reported there too.
      if (tag) out.lineStart(tag.start)
      span = tag
    } else if (kind === 'E') {
      span = targets.expressions[next.E++]
    } else {
      const offset = kind === 'D' ? targets.calls[next.D++] : targets.layout
      if (offset !== undefined) out.mapHere(offset)
    }
    // Should Eta ever copy code differently, the code is left unmapped rather than mapped wrong.
    if (span && !marked.startsWith(span.code, last)) span = undefined
  }
  out.copy(marked.slice(last), span)
  const sourceMap: TemplateSourceMap = {
    version: 3,
    sources: [file],
    sourcesContent: [map.source],
    names: [],
    mappings: encode(out.lines),
  }
  return { code: out.code, map: sourceMap }
}

/** Module text written so far, and the mappings of each of its lines. */
class MappedOutput {
  private readonly parts: string[] = []
  readonly lines: SourceMapSegment[][] = [[]]
  private column = 0

  constructor(private readonly map: LineMap) {}

  get code(): string {
    return this.parts.join('')
  }

  /** One mapping at the current position, to `offset`. */
  mapHere(offset: number): void {
    const { line, column } = this.map.position(offset)
    this.lines[this.lines.length - 1]?.push([this.column, 0, line - 1, column - 1])
  }

  /** A mapping at the start of the current line, unless the line has one already. */
  lineStart(offset: number): void {
    const line = this.lines[this.lines.length - 1]
    if (!line || line.length > 0) return
    const { line: sourceLine, column } = this.map.position(offset)
    line.push([0, 0, sourceLine - 1, column - 1])
  }

  /**
   * Appends `text`. When it starts with `span`'s code, each token of that
   * code (a run of word characters, or any other single character) is mapped
   * to where it stands in the source. This runs over the whole module at
   * every dev transform: character codes and `indexOf`, no per-character
   * regular expressions.
   */
  copy(text: string, span: CodeSpan | undefined): void {
    this.parts.push(text)
    const code = span ? Math.min(span.code.length, text.length) : 0
    let wordBefore = false
    for (let i = 0; i < code && span; i++) {
      const ch = text.charCodeAt(i)
      const word = isWordChar(ch)
      if (!isSpace(ch) && !(word && wordBefore)) this.mapHere(span.offset + i)
      wordBefore = word
      this.advance(text, i)
    }
    if (RARE_BREAK.test(text)) {
      for (let i = code; i < text.length; i++) this.advance(text, i)
      return
    }
    // Text with `\n` as its only line break: count them natively.
    let last = code - 1
    for (let i = text.indexOf('\n', code); i !== -1; i = text.indexOf('\n', i + 1)) {
      this.lines.push([])
      last = i
    }
    this.column = last >= code ? text.length - last - 1 : this.column + text.length - code
  }

  /** Moves past `text[i]`. V8's line terminators are how a stack trace counts lines; `\r\n` is one. */
  private advance(text: string, i: number): void {
    const ch = text.charCodeAt(i)
    if (ch === 10 || ch === 0x2028 || ch === 0x2029 || (ch === 13 && text.charCodeAt(i + 1) !== 10)) {
      this.lines.push([])
      this.column = 0
    } else this.column++
  }
}

const RARE_BREAK = /[\r\u2028\u2029]/

/** Identifier characters: ASCII letters, digits, `_`, `$`, and anything beyond ASCII. */
function isWordChar(ch: number): boolean {
  return (
    (ch >= 97 && ch <= 122) || (ch >= 65 && ch <= 90) || (ch >= 48 && ch <= 57) || ch === 95 || ch === 36 || ch > 127
  )
}

function isSpace(ch: number): boolean {
  return ch <= 32 || ch === 0xa0 || ch === 0x2028 || ch === 0x2029 || ch === 0xfeff
}
