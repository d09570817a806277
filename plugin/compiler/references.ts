/**
 * Which other templates a template names — `include('…')`,
 * `includeAsync('…')`, `layout('…')` with a literal name, and directives'
 * `fallback="…"` — resolved to canonical names (paths inside the templates
 * folder, no extension). Pure: whether a name exists is asked of the caller.
 */
import type { Directive, Segment } from './parse.ts'

export interface Reference {
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
  const add = (written: string, offset: number): void => {
    found.push({ written, name: resolveTemplateName(written, from) ?? '', offset })
  }
  for (const segment of segments) {
    if (segment.kind === 'eta') {
      for (const match of segment.text.matchAll(CALL)) {
        const [whole, , written = ''] = match
        add(written, segment.start + match.index + whole.indexOf(written))
      }
    } else if (segment.kind === 'directive') {
      addFallback(segment, add)
    }
  }
  return found
}

function addFallback(directive: Directive, add: (written: string, offset: number) => void): void {
  const fallback = directive.attributes.find((a) => a.name === 'fallback')
  if (fallback?.value.kind === 'literal') add(fallback.value.value, fallback.offset + 'fallback="'.length)
}
