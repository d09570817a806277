/**
 * Files no browser may have (issue 9, hole 3): env files, server-only modules
 * and build output. One predicate, used by every layer that can hand a file to
 * the browser — `server.fs.deny`, the dev server's request guard, and the
 * client environment's `resolveId` and `load` — so they cannot disagree.
 */
import { cleanId, displayId, isInDirs, isServerOnlyId } from './server-only.ts'

/** Why a file is private; also the start of the error message. */
export type PrivateKind = 'env file' | 'server-only module' | 'build output'

/** The absolute folders behind the kinds that are folders (see `absoluteDirs`). */
export interface PrivateDirs {
  /** `serverDirs`, the templates folder, this package's runtime and stubs. */
  server: readonly string[]
  /** Every environment's `build.outDir` and the SSR output folder. */
  output: readonly string[]
  /** Virtual module ids (`\0…`) that are server-only. */
  virtualIds: readonly string[]
}

/**
 * A path with a segment starting with `.env`, in any case: `.env`, `.env.local`,
 * but also `.envrc`, `.env~`, `.env_local`, `.env.production.local` and a
 * `.envs/` folder. Vite's own deny list has only `.env` and `.env.*`; every
 * tool that writes secrets next to them (direnv, editors' backups, hand-made
 * names) picks another spelling, so the whole prefix is refused.
 */
export function isEnvPath(file: string): boolean {
  return cleanId(file)
    .split(/[\\/]/)
    .some((segment) => segment.toLowerCase().startsWith('.env'))
}

/** Why `id` (a module id or an absolute file path) is private, or `undefined` when the client may load it. */
export function privateKind(id: string, dirs: PrivateDirs): PrivateKind | undefined {
  if (isServerOnlyId(id, dirs.server, dirs.virtualIds)) return 'server-only module'
  if (id.startsWith('\0')) return undefined
  if (isEnvPath(id)) return 'env file'
  if (isInDirs(id, dirs.output)) return 'build output'
  return undefined
}

const FIXES: Record<PrivateKind, string> = {
  'server-only module': 'import it from server code only',
  'env file': 'env files hold secrets: read them in server code (process.env), never in client code',
  'build output': 'import the source file instead: build output is never client source',
}

/**
 * The error for a private file in client code, naming the chain that brought
 * it in: `env file .envrc imported from client code: client/main.ts → .envrc; …`.
 */
export function privateFileMessage(root: string, kind: PrivateKind, chain: readonly string[]): string {
  const names = chain.map((id) => displayId(root, id))
  const module = names.at(-1) ?? '?'
  const how =
    names.length > 1
      ? `imported from client code: ${names.join(' → ')}`
      : 'loaded as client code (an entry or a direct request)'
  return `${kind} ${module} ${how}; ${FIXES[kind]}`
}
