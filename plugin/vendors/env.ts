/**
 * Configured vendors from the SPEC's fixed environment names: each adapter
 * reads its own, and one whose secret is unset is left out.
 */
import type { AnyVendorAdapter, ConfiguredVendor, Env } from './define.ts'
import { BUILTIN_VENDORS } from './registry.ts'

/**
 * The built-in vendors, then `extra` (the app's own adapters), whose secret
 * is set in `env` (`WIDGET_API_KEY`, `RAI_ACCESS_KEY`, `CARAMELO_SECRET_TOKEN`,
 * or what the app's adapter reads), each configured from it.
 * @example embeds({ vendors: vendorsFromEnv(process.env), templates })
 */
export function vendorsFromEnv(env: Env, extra: readonly AnyVendorAdapter[] = []): ConfiguredVendor[] {
  return [...BUILTIN_VENDORS, ...extra].flatMap((adapter) => {
    const options: unknown = adapter.definition.fromEnv?.(env)
    return options === undefined ? [] : [adapter(options)]
  })
}
