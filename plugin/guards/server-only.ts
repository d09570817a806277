/**
 * Modules only the server may import: templates, the templates module, this
 * package's runtime and stubs, and the app's server folders. They read secrets
 * and talk to vendors; bundled for the browser they would ship both.
 */
import { realpathSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { normalizePath } from 'vite'

const PACKAGE_NAME = 'vite-plugin-eta-embeds'

/** Strips `?query` and `#hash` from a module id. */
export function cleanId(id: string): string {
  return id.replace(/[?#].*$/s, '')
}

function realDir(dir: string): string {
  let real = dir
  try {
    real = realpathSync(dir)
  } catch {
    // Not there (a trimmed install): the path as given still names it.
  }
  return normalizePath(real).replace(/\/$/, '')
}

/**
 * This package's runtime, vendor adapters and stubs, wherever the package
 * sits: the source folders in this repo (`plugin/runtime`, `plugin/vendors`,
 * `stubs`), `dist/node/…` once installed.
 */
export const PACKAGE_SERVER_DIRS: readonly string[] = [
  realDir(fileURLToPath(new URL('../runtime/', import.meta.url))),
  realDir(fileURLToPath(new URL('../vendors/', import.meta.url))),
  realDir(fileURLToPath(new URL('../../stubs/', import.meta.url))),
]

/** `dirs` (relative to `root`, or absolute) as real absolute paths with `/` separators. */
export function absoluteDirs(root: string, dirs: readonly string[]): string[] {
  return dirs.map((dir) => realDir(path.resolve(root, dir)))
}

/** Absolute folders whose files are server-only: the app's `serverDirs` and this package's runtime, adapters and stubs. */
export function serverOnlyDirs(root: string, serverDirs: readonly string[]): string[] {
  return [...absoluteDirs(root, serverDirs), ...PACKAGE_SERVER_DIRS]
}

/** A module id inside one of `dirs` (absolute, from {@link absoluteDirs}), the query ignored. */
export function isInDirs(id: string, dirs: readonly string[]): boolean {
  // Lower case: on a case-insensitive disk `/Server/db.ts` is `server/db.ts`.
  const file = normalizePath(cleanId(id)).toLowerCase()
  return dirs.some((dir) => file === dir.toLowerCase() || file.startsWith(`${dir.toLowerCase()}/`))
}

/** A bare import that is server-only before it is even resolved: the templates module and this package. */
export function isServerOnlySource(source: string, templatesId: string): boolean {
  return source === templatesId || source === PACKAGE_NAME || source.startsWith(`${PACKAGE_NAME}/`)
}

/** A resolved module id that is server-only: a template (with any query), a virtual id we own, a server folder. */
export function isServerOnlyId(id: string, dirs: readonly string[], virtualIds: readonly string[]): boolean {
  if (id.startsWith('\0')) return virtualIds.includes(id)
  return cleanId(id).toLowerCase().endsWith('.eta') || isInDirs(id, dirs)
}

/**
 * Who imported what, first importer only, as modules resolve: enough to name
 * one chain from an entry to a server-only module. Vite's own records come too
 * late for that — in a build, `getModuleInfo(id).importers` is still empty while
 * the importer resolves its imports, and in dev `getModuleInfo` has no importers.
 */
export class ImportChains {
  readonly #parent = new Map<string, string>()

  record(id: string, importer: string): void {
    const child = cleanId(id)
    const parent = cleanId(importer)
    if (child !== parent && !this.#parent.has(child)) this.#parent.set(child, parent)
  }

  /** `id` preceded by its importers back to an entry, the entry first. */
  chain(id: string): string[] {
    const chain = [cleanId(id)]
    const seen = new Set(chain)
    for (let up = this.#parent.get(chain[0] ?? ''); up !== undefined && !seen.has(up); up = this.#parent.get(up)) {
      chain.unshift(up)
      seen.add(up)
    }
    return chain
  }
}

/** A module id for a message: root-relative, or from the package name inside `node_modules`. */
export function displayId(root: string, id: string): string {
  if (id.startsWith('\0')) return id.slice(1)
  if (!path.isAbsolute(id)) return id
  const relative = normalizePath(path.relative(root, cleanId(id)))
  if (!relative.startsWith('../')) return relative
  const inPackage = relative.lastIndexOf('/node_modules/')
  return inPackage === -1 ? relative : relative.slice(inPackage + '/node_modules/'.length)
}
