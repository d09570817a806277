// The page styles and the "this entry ran" mark, shared by both entries: the
// build puts them in a chunk of their own, whose CSS the server links (see
// server/assets.ts) since no entry lists it.
import './style.css'

/** Marks the document: `data-<name>="ready"` (the e2e suite checks it ran under the page's CSP). */
export function ready(name: string): void {
  document.documentElement.dataset[name] = 'ready'
}
