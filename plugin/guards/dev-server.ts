/**
 * The dev server never serves `.env*` files, templates or server sources.
 * Two layers: `server.fs.deny` patterns, which Vite checks when it reads a file
 * itself, and a middleware in front of Vite's own that answers 404 by path —
 * `fs.deny` is skipped for any module a plugin `load`s, and is matched against
 * absolute paths, so a root-relative pattern like `server/**` never matches.
 */
import path from 'node:path'
import { normalizePath, type Connect } from 'vite'
import { isServerOnlyId } from './server-only.ts'

/**
 * Vite 8's default `server.fs.deny`. A plugin's `config` hook that sets the
 * option replaces the default instead of adding to it, so when the user set
 * none we restate it (a test compares it with Vite's own).
 */
export const VITE_DEFAULT_FS_DENY: readonly string[] = [
  '.env',
  '.env.*',
  '*.{crt,pem,key,p12,pfx,cer,der}',
  '.npmrc',
  '.yarnrc.yml',
  '**/.git/**',
]

/** Escapes glob syntax in a literal path (a root like `/tmp/app (copy)` is a valid folder name). */
function globLiteral(file: string): string {
  return file.replace(/[\\*?[\]{}()!+@|]/g, (c) => (c === '\\' ? '\\\\' : `[${c === ']' ? '\\]' : c}]`))
}

/**
 * What the plugin adds to `server.fs.deny`: Vite's defaults when the user has
 * no list (Vite appends ours to theirs), then `.env*`, templates and each
 * server-only folder as an absolute pattern.
 */
export function fsDenyPatterns(userDeny: readonly string[] | undefined, dirs: readonly string[]): string[] {
  return [
    ...(userDeny ? [] : VITE_DEFAULT_FS_DENY),
    '.env',
    '.env.*',
    '**/*.eta',
    ...dirs.map((dir) => `${globLiteral(dir)}/**`),
  ]
}

/** The file a dev-server URL would serve: under the root, or an absolute `/@fs/` path; `undefined` for module ids. */
function requestedFile(root: string, base: string, url: string): string | undefined {
  let pathname = url.replace(/[?#].*$/s, '')
  try {
    pathname = decodeURIComponent(pathname).replaceAll('\\', '/')
  } catch {
    return undefined // Vite serves nothing for a malformed URL either.
  }
  if (base !== '/' && pathname.startsWith(base)) pathname = pathname.slice(base.length - 1)
  if (pathname.startsWith('/@fs/'))
    return path.posix.normalize(pathname.slice('/@fs'.length).replace(/^\/(?=[a-z]:)/i, ''))
  if (pathname.startsWith('/@')) return undefined // /@id/, /@vite/: the load guard refuses server-only ids
  return path.posix.join(normalizePath(root), path.posix.normalize(pathname))
}

/** `.env`, `.env.local`, `.env.production`…, in any folder. */
function isEnvFile(file: string): boolean {
  const name = path.posix.basename(file).toLowerCase()
  return name === '.env' || name.startsWith('.env.')
}

/**
 * A connect middleware answering 404 for a request that would serve an env
 * file, a template or a file in a server-only folder — 404 rather than 403,
 * so the answer does not confirm the file exists.
 */
export function serverOnlyRequestGuard(
  root: string,
  base: string,
  dirs: readonly string[],
): Connect.NextHandleFunction {
  return (req, res, next) => {
    const file = req.url === undefined ? undefined : requestedFile(root, base, req.url)
    if (file === undefined || !(isEnvFile(file) || isServerOnlyId(file, dirs, []))) {
      next()
      return
    }
    res.statusCode = 404
    res.setHeader('Content-Type', 'text/plain; charset=utf-8')
    res.end('Not Found')
  }
}
