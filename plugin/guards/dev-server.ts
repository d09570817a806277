/**
 * What the dev server may serve, said in Vite's own options (issue 5; issue 9,
 * hole 3). Vite's defaults serve the whole workspace — server code, `dist/`,
 * load tests — to any localhost page: the plugin narrows `server.fs.allow` to
 * what the client needs, denies private files by construction, and keeps
 * responses same-origin. The request guard in `dev-requests.ts` and the
 * plugin's `load` hook hold the same line for routes these options miss.
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import {
  isFileLoadingAllowed,
  normalizePath,
  searchForWorkspaceRoot,
  type BuildEnvironmentOptions,
  type ResolvedConfig,
  type ServerOptions,
  type UserConfig,
} from 'vite'
import { cleanId, displayId } from './server-only.ts'

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
 * no list (Vite appends ours to theirs), then every `.env*` name (file or
 * folder, see `isEnvPath`), templates, and each private folder as an absolute
 * pattern — Vite matches the list against absolute paths, so a root-relative
 * `server/**` would deny nothing.
 */
export function fsDenyPatterns(userDeny: readonly string[] | undefined, dirs: readonly string[]): string[] {
  return [
    ...(userDeny ? [] : VITE_DEFAULT_FS_DENY),
    '.env*',
    '**/.env*/**',
    '**/*.eta',
    ...dirs.map((dir) => `${globLiteral(dir)}/**`),
  ]
}

/** The part of a user or resolved config that says where builds write. */
export interface OutputConfig {
  build?: Pick<BuildEnvironmentOptions, 'outDir' | 'rolldownOptions'>
  environments?: Record<string, { build?: Pick<BuildEnvironmentOptions, 'outDir' | 'rolldownOptions'> } | undefined>
}

/**
 * Every folder a `vite build` of this config writes to, relative to the root
 * or absolute: the top-level and each environment's `build.outDir` (Vite's
 * default `dist` when unset), any `output.dir`, and the SSR output folder.
 */
export function outputFolders(config: OutputConfig, ssrOutDir: string): string[] {
  const builds = [config.build, ...Object.values(config.environments ?? {}).map((env) => env?.build)]
  const dirs = [config.build?.outDir ?? 'dist', ssrOutDir]
  for (const build of builds) {
    if (build?.outDir) dirs.push(build.outDir)
    const output = build?.rolldownOptions?.output
    for (const entry of Array.isArray(output) ? output : [output]) if (entry?.dir) dirs.push(entry.dir)
  }
  return [...new Set(dirs)]
}

/**
 * `dirs` (absolute) without the root and its ancestors: an output folder set to
 * the root itself (Vite allows it, with a warning) cannot be denied without
 * denying the client with it.
 */
export function belowRoot(root: string, dirs: readonly string[]): string[] {
  return dirs.filter((dir) => {
    const up = path.relative(dir, root)
    return up.startsWith('..') || path.isAbsolute(up)
  })
}

/** The client build's entries as configured, or Vite's default `index.html` when it exists. */
function clientInputs(root: string, config: UserConfig): string[] {
  const build = config.environments?.['client']?.build
  const input =
    build?.rolldownOptions?.input ??
    build?.rollupOptions?.input ??
    config.build?.rolldownOptions?.input ??
    config.build?.rollupOptions?.input
  if (input === undefined) return existsSync(path.join(root, 'index.html')) ? ['index.html'] : []
  if (typeof input === 'string') return [input]
  return Array.isArray(input) ? input : Object.values(input)
}

/**
 * The default `server.fs.allow`: what the browser needs, and no more. The
 * folders of the client build's entries — what `vite build` bundles is what
 * the dev server serves — then `node_modules` (dependencies, pre-bundled or
 * not) at the root and at the workspace root, and a custom `cacheDir`. Vite
 * adds its own client folder itself. Files that client code imports from
 * elsewhere still load (Vite allows every module an allowed module imports);
 * the public folder is served without this check. An entry in the root itself
 * (an `index.html` app) allows the root: private files are still denied.
 */
export function clientFsAllow(root: string, config: UserConfig): string[] {
  const dirs = clientInputs(root, config).map((input) => path.dirname(path.resolve(root, input)))
  dirs.push(path.join(root, 'node_modules'), path.join(searchForWorkspaceRoot(root), 'node_modules'))
  if (config.cacheDir) dirs.push(path.resolve(root, config.cacheDir))
  return [...new Set(dirs.map(normalizePath))]
}

/**
 * The `server` options the plugin contributes. `fs.allow` and `cors` only when
 * the user set none: theirs is a decision, Vite's default is not. `cors: false`
 * sends no `Access-Control-Allow-Origin` at all — Vite's default echoes any
 * `localhost` origin, so any other local site or dev server could read every
 * module. Pages served from the dev server's own origin need no CORS.
 */
export function devServerOptions(root: string, config: UserConfig, privateDirs: readonly string[]): ServerOptions {
  const user = config.server
  return {
    fs: {
      deny: fsDenyPatterns(user?.fs?.deny, privateDirs),
      ...(user?.fs?.allow ? {} : { allow: clientFsAllow(root, config) }),
    },
    ...(user?.cors === undefined ? { cors: false } : {}),
  }
}

/**
 * A file on disk that Vite's own check (`server.fs.allow`, `deny`, the modules
 * client code imported) would not serve. Vite skips that check when a plugin
 * loads the file (`?worker` wrappers, any third-party loader); asking it again
 * for every client module keeps routes no one listed closed.
 */
export function isOutsideFsAllow(config: ResolvedConfig, id: string): boolean {
  const file = cleanId(id)
  if (id.startsWith('\0') || !path.isAbsolute(file) || !existsSync(file)) return false
  return !isFileLoadingAllowed(config, normalizePath(file))
}

/** The error for a client module that the dev server may not serve. */
export function outsideFsAllowMessage(root: string, id: string): string {
  return (
    `file ${displayId(root, id)} is outside server.fs.allow, so the dev server does not serve it: ` +
    'import it from client code, or add its folder to server.fs.allow'
  )
}
