/**
 * A middleware in front of Vite's own that answers 404 for any request that
 * could name a private file (see `private-files.ts`), or a file on disk that
 * Vite's `server.fs` rules do not let it serve. Vite applies those rules only
 * when it reads a file itself, and the `load` hook only sees requests that
 * reach a transform: this layer sees every URL first, in every spelling.
 */
import { statSync } from 'node:fs'
import path from 'node:path'
import { normalizePath, type Connect } from 'vite'
import { privateKind, type PrivateDirs } from './private-files.ts'
import { cleanId } from './server-only.ts'

/** Enough decoding rounds for any real URL; an attacker's deeper nesting just stops being decoded. */
const MAX_DECODES = 4

/**
 * The path of `url` as each layer in front of the file system might read it:
 * as sent, decoded once, twice… (`%252e` → `%2e` → `.`), `%2f` as `/`, `\` as
 * `/`, with and without the base, and behind `/@fs/` or `/@id/`. Checking
 * them all costs nothing and leaves no spelling to guess.
 */
export function requestedPaths(base: string, url: string): string[] {
  const forms: string[] = []
  let current = cleanId(url)
  for (let round = 0; round <= MAX_DECODES; round++) {
    forms.push(current.replaceAll('\\', '/'))
    let decoded: string
    try {
      decoded = decodeURIComponent(current)
    } catch {
      break // a malformed escape: Vite serves nothing for it either
    }
    if (decoded === current) break
    current = decoded
  }
  const paths = new Set<string>()
  for (const form of forms) {
    const unbased = base !== '/' && form.startsWith(base) ? [form, form.slice(base.length - 1)] : [form]
    for (const candidate of unbased) {
      paths.add(candidate)
      // `/@fs/C:/…` on Windows: the drive letter follows the slash.
      if (candidate.startsWith('/@fs/')) paths.add(candidate.slice('/@fs'.length).replace(/^\/(?=[a-z]:)/i, ''))
      // `/@id/x` is the import `x`; `/@id//abs/x` an absolute path.
      if (candidate.startsWith('/@id/')) paths.add(`/${candidate.slice('/@id/'.length)}`)
    }
  }
  return [...paths]
}

function isFile(file: string): boolean {
  return statSync(file, { throwIfNoEntry: false })?.isFile() ?? false
}

/** What the request guard needs to know about the app. */
export interface GuardContext {
  root: string
  base: string
  dirs: PrivateDirs
  /** Vite's own verdict on a file (`isFileLoadingAllowed`): allowed, denied, or imported by client code. */
  mayServe(file: string): boolean
  /** Told once per file Vite's rules refuse, so a developer learns why an asset does not load. */
  warnOutsideAllow(file: string): void
}

/** Why a request is refused: it names a private file, or an existing file Vite's `server.fs` rules refuse. */
export type Refusal = { kind: 'private' } | { kind: 'outside fs.allow'; file: string }

/**
 * Whether any reading of `url` names a private file — as an absolute path or
 * under the root, existing or not — or names an existing file that Vite may
 * not serve. Vite reads a root-relative path under the root first, else as an
 * absolute path: the same order here. A file that exists nowhere is left to
 * Vite (virtual modules have root-relative URLs too).
 */
export function refusalOf(url: string, context: GuardContext): Refusal | undefined {
  const root = normalizePath(context.root)
  let outside: string | undefined
  for (const requested of requestedPaths(context.base, url)) {
    const normal = path.posix.normalize(requested)
    const files = [path.posix.join(root, normal), normal]
    if ([requested, ...files].some((file) => privateKind(file, context.dirs) !== undefined)) return { kind: 'private' }
    const onDisk = files.find(isFile)
    if (onDisk !== undefined && !context.mayServe(onDisk)) outside ??= onDisk
  }
  return outside === undefined ? undefined : { kind: 'outside fs.allow', file: outside }
}

/**
 * Refuses what {@link refusalOf} refuses, before Vite's own middlewares and any
 * plugin's: a private file with 404 — whether it exists or not, so the answer
 * confirms nothing — and a file outside `server.fs.allow` with Vite's own 403.
 */
export function privateRequestGuard(context: GuardContext): Connect.NextHandleFunction {
  return (req, res, next) => {
    const refusal = req.url === undefined ? undefined : refusalOf(req.url, context)
    if (!refusal) {
      next()
      return
    }
    if (refusal.kind === 'outside fs.allow') context.warnOutsideAllow(refusal.file)
    res.statusCode = refusal.kind === 'private' ? 404 : 403
    res.setHeader('Content-Type', 'text/plain; charset=utf-8')
    res.end(refusal.kind === 'private' ? 'Not Found' : 'Forbidden')
  }
}
