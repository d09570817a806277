/**
 * The built-in vendor adapters — the one list the compiler, the build guards,
 * the runtime and the demo read. A directive exists only because an adapter
 * here (or one the app registers) declares it. Adding a vendor is a folder
 * beside this file and one line below.
 */
import { caramelo } from './caramelo/index.ts'
import type { AnyVendorAdapter, AnyVendorDefinition } from './define.ts'
import { returningProxy } from './returning/proxy.ts'
import { returningSdk } from './returning/sdk.ts'
import { Vocabulary } from './vocabulary.ts'

/**
 * In registration order: for a directive with several flows, the first configured one is its default.
 * Typed as the erased adapter: the declaration build cannot name each adapter's private `Config`.
 */
export const BUILTIN_VENDORS: readonly AnyVendorAdapter[] = [returningProxy, returningSdk, caramelo]

/** Every adapter's definition, built-ins first, then the app's own. */
export function definitionsOf(extra: readonly AnyVendorAdapter[] = []): AnyVendorDefinition[] {
  return [...BUILTIN_VENDORS, ...extra].map((a) => a.definition)
}

/** The vocabulary of the built-in adapters: what the compiler knows when the app registers none of its own. */
export const BUILTIN_VOCABULARY = new Vocabulary(definitionsOf())
