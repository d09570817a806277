/**
 * The Vite plugin's options, typed twice (STYLE rule 3): `EmbedsPluginOptions`
 * as users write them, `ResolvedPluginOptions` as the hooks read them.
 */
import path from 'node:path'
import type { AnyVendorAdapter } from './vendors/define.ts'
import { BUILTIN_VENDORS, definitionsOf } from './vendors/registry.ts'
import { Vocabulary } from './vendors/vocabulary.ts'

export interface EmbedsPluginOptions {
  /**
   * Folder holding the `.eta` templates, relative to Vite's `root`. Template
   * names (`ctx.render('home')`, `include('partials/nav')`) are paths inside it
   * without the extension.
   * @default 'templates'
   */
  templatesDir?: string
  /**
   * Where `vite build` writes the server build (`templates.js`), relative to `root`.
   * @default 'dist/server'
   */
  ssrOutDir?: string
  /**
   * The Vite environment that compiles and runs the templates: a server
   * environment of your config, by name. Without it, the one server
   * environment your config (and other plugins) define is used, else Vite's
   * own `ssr`; a config with several must name one.
   * @default the config's only server environment, else 'ssr'
   * @example environment: 'server'
   */
  environment?: string
  /**
   * More values the build output must never contain, on top of the values of
   * the secret environment variables (see `secretEnvNames`). `vite build` fails
   * when one appears in any file written to the client or server output
   * folders — chunks, source maps, `public/` copies, other plugins' files — as
   * written, JSON/JS-escaped, URL-encoded, base64, base64url or hex, and
   * deletes a leaking file it finds on disk so `dist/` never keeps it. Values
   * shorter than 8 characters are not scanned for (too short to find without
   * false positives); the build warns about them instead.
   * @default []
   * @example secrets: [process.env['DATABASE_PASSWORD'] ?? '']
   */
  secrets?: string[]
  /**
   * More environment variables whose values are secrets, added to
   * every vendor adapter's `secretEnvNames` and `SESSION_KEYS` (each
   * comma-separated key). Values are read from `process.env` and from the
   * `.env` files Vite reads for the mode. Their values are scanned for like
   * `secrets`, and an `envPrefix` that any of these names starts with is refused.
   * @default []
   * @example secretEnvNames: ['DATABASE_URL']
   */
  secretEnvNames?: string[]
  /**
   * Folders, relative to Vite's `root`, that hold server code: client code
   * that imports from them fails (dev and build, naming the import chain) and
   * the dev server answers 404 for them. This package's runtime and stubs,
   * `templatesDir`, the templates module and every `.eta` file are server-only
   * regardless; so are `.env*` files and every build output folder (the dev
   * server never serves them). The dev server's `server.fs.allow`, unless you
   * set it, holds only the client entries' folders and `node_modules`, so
   * other folders (load tests, scripts) are not served either.
   * @default ['server']
   */
  serverDirs?: string[]
  /**
   * The app's own vendor adapters (`defineVendor(…)`), on top of the
   * built-in ones: their directives compile, with their attribute rules, and
   * their `secretEnvNames` are treated as secrets. The runtime needs them too,
   * configured, in its `vendors` option.
   * @default []
   */
  vendors?: AnyVendorAdapter[]
}

export interface ResolvedPluginOptions {
  templatesDir: string
  ssrOutDir: string
  /** As given: the environment is found once the config is known (see `vite.ts`). */
  environment: string | undefined
  secrets: string[]
  secretEnvNames: string[]
  serverDirs: string[]
  vocabulary: Vocabulary
  /** The built-in and the app's adapters' secret environment names. */
  vendorSecretEnvNames: string[]
}

/** A folder option that must stay inside the root, without its trailing slash. */
function folderInRoot(name: string, dir: string): string {
  if (path.isAbsolute(dir) || dir.split(/[\\/]/).includes('..')) {
    throw new TypeError(`options.${name} must be a folder inside the Vite root, got '${dir}'`)
  }
  return dir.replace(/[\\/]+$/, '')
}

function environmentName(name: unknown): string | undefined {
  if (name === undefined) return undefined
  if (typeof name !== 'string' || !name) {
    throw new TypeError(`options.environment must be the name of a Vite environment, got ${JSON.stringify(name)}`)
  }
  return name
}

function stringList(name: string, value: unknown): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new TypeError(`options.${name} must be an array of strings`)
  }
  return value
}

export function resolvePluginOptions(options: EmbedsPluginOptions): ResolvedPluginOptions {
  return {
    templatesDir: folderInRoot('templatesDir', options.templatesDir ?? 'templates'),
    ssrOutDir: options.ssrOutDir ?? 'dist/server',
    environment: environmentName(options.environment),
    secrets: stringList('secrets', options.secrets),
    secretEnvNames: stringList('secretEnvNames', options.secretEnvNames),
    serverDirs: stringList('serverDirs', options.serverDirs ?? ['server']).map((dir) =>
      folderInRoot('serverDirs', dir),
    ),
    ...vendorVocabulary(options.vendors),
  }
}

function vendorVocabulary(vendors: unknown): Pick<ResolvedPluginOptions, 'vocabulary' | 'vendorSecretEnvNames'> {
  if (vendors !== undefined && !Array.isArray(vendors)) {
    throw new TypeError('options.vendors must be an array of vendor adapters made with defineVendor()')
  }
  const adapters = (vendors ?? []) as AnyVendorAdapter[]
  adapters.forEach((adapter, i) => {
    if (typeof adapter?.definition?.embed !== 'function') {
      throw new TypeError(`options.vendors[${i}] must be a vendor adapter made with defineVendor()`)
    }
  })
  // The built-ins are always known: listing one again is harmless, as it is to the runtime.
  const definitions = definitionsOf(adapters.filter((adapter) => !BUILTIN_VENDORS.includes(adapter)))
  return {
    vocabulary: new Vocabulary(definitions),
    vendorSecretEnvNames: definitions.flatMap((d) => [...(d.secretEnvNames ?? [])]),
  }
}
