/**
 * Which other templates a template names — `include('…')`,
 * `includeAsync('…')`, `layout('…')` with a literal name, and directives'
 * `fallback="…"` — resolved to canonical names (paths inside the templates
 * folder, no extension). Pure: whether a name exists is asked of the caller.
 */
import type { Directive, Segment } from './parse.ts'

export interface Reference {
  kind: 'include' | 'fallback'
  /**
   * Reached on every render: outside any `{ … }` block of the template's code
   * (a heuristic — `<% if (x) include('a') %>` without braces counts as
   * unconditional; the cost of that mistake is one vendor call started early).
   */
  unconditional: boolean
  /** As written in the template: `./nav`, `partials/nav.eta`. */
  written: string
  /** Canonical name: `partials/nav`. */
  name: string
  /** Offset of the written name in the source. */
  offset: number
}

const CALL = /\b(?:include|includeAsync|layout)\(\s*(['"`])([^'"`\\$\n]+)\1/g

/**
 * Resolves `written` as seen from template `from`: `./x` and `../x` are
 * relative to `from`'s folder, anything else to the templates folder.
 * Returns `undefined` for a name that climbs out of the templates folder.
 */
export function resolveTemplateName(written: string, from: string): string | undefined {
  const bare = written.replace(/\.eta$/, '')
  const relative = bare.startsWith('./') || bare.startsWith('../')
  const parts = relative ? from.split('/').slice(0, -1) : []
  for (const segment of bare.split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment !== '..') parts.push(segment)
    else if (parts.pop() === undefined) return undefined
  }
  return parts.length ? parts.join('/') : undefined
}

/** Every literal template name in `segments`, in source order. */
export function findReferences(segments: Segment[], from: string): Reference[] {
  const found: Reference[] = []
  const depths = blockDepths(segments)
  segments.forEach((segment, i) => {
    const depth = depths[i] ?? 0
    if (segment.kind === 'eta') {
      for (const match of segment.text.matchAll(CALL)) {
        const [whole, , written = ''] = match
        const unconditional = depth + depthChange(segment.text.slice(0, match.index)) === 0
        found.push(
          reference('include', unconditional, written, from, segment.start + match.index + whole.indexOf(written)),
        )
      }
    } else if (segment.kind === 'directive') {
      const fallback = segment.attributes.find((a) => a.name === 'fallback')
      if (fallback?.value.kind === 'literal') {
        const offset = fallback.offset + 'fallback="'.length
        found.push(reference('fallback', false, fallback.value.value, from, offset))
      }
    }
  })
  return found
}

function reference(kind: Reference['kind'], unconditional: boolean, written: string, from: string, offset: number) {
  return { kind, unconditional, written, name: resolveTemplateName(written, from) ?? '', offset }
}

/** The directives reached on every render (outside any `{ … }` block), by the same heuristic. */
export function unconditionalDirectives(segments: Segment[]): Set<Directive> {
  const depths = blockDepths(segments)
  const out = new Set<Directive>()
  segments.forEach((segment, i) => {
    if (segment.kind === 'directive' && depths[i] === 0) out.add(segment)
  })
  return out
}

// Both exports need the depths of one compile's segments: worked out once.
const depthsOf = new WeakMap<Segment[], number[]>()

/** The block depth (open `{` in template code) at the start of each segment. */
function blockDepths(segments: Segment[]): number[] {
  const known = depthsOf.get(segments)
  if (known) return known
  let depth = 0
  const depths = segments.map((segment) => {
    const at = depth
    if (segment.kind === 'eta') depth = Math.max(0, depth + depthChange(segment.text))
    return at
  })
  depthsOf.set(segments, depths)
  return depths
}

/** `{` minus `}` in code, skipping string literals and comments. */
function depthChange(code: string): number {
  let change = 0
  for (let i = 0; i < code.length; i++) {
    const ch = code[i]
    if (ch === "'" || ch === '"' || ch === '`') i = skipQuoted(code, i)
    else if (ch === '/' && (code[i + 1] === '*' || code[i + 1] === '/')) i = skipComment(code, i)
    else if (ch === '{') change++
    else if (ch === '}') change--
  }
  return change
}

function skipComment(code: string, start: number): number {
  const block = code[start + 1] === '*'
  const end = code.indexOf(block ? '*/' : '\n', start + 2)
  if (end === -1) return code.length
  return block ? end + 1 : end
}

function skipQuoted(code: string, start: number): number {
  const quote = code[start]
  for (let i = start + 1; i < code.length; i++) {
    if (code[i] === '\\') i++
    else if (code[i] === quote) return i
  }
  return code.length
}
