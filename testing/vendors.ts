/**
 * The vendors of a test run: a local stub for every built-in flow and for each of the app's own adapters
 * that brings one, each started with canary secrets, and the environment that points the app at them.
 */
import { createHash } from 'node:crypto'
import type { AnyVendorAdapter } from '../plugin/vendors/define.ts'
import { BUILTIN_VENDORS } from '../plugin/vendors/registry.ts'
import { LOCAL_VENDORS, type LocalVendor, type LocalVendorStarter } from '../stubs/local.ts'
import type { StubWitness, TokenHolder } from '../stubs/witness.ts'
import { serverEntries, witnessEntries, type Entry } from './entries.ts'

/** An app's own adapter and the stub that stands in for its vendor in tests. */
export interface TestVendor {
  /** The adapter, as registered with the plugin: its `name`, `secretEnvNames` and `fromEnv` are used. */
  adapter: AnyVendorAdapter
  /** Starts the stub with the secrets it is given (`options.secrets`) and answers its witness. */
  stub: LocalVendorStarter
}

/** What decides the secrets: the same options give the same values in every process. */
export interface CanaryOptions {
  /** The app's own adapters, each with its stub. The built-in flows are always there. */
  vendors?: readonly TestVendor[]
  /** More variables whose values are secrets, besides every adapter's and `SESSION_KEYS`. */
  secretEnvNames?: readonly string[]
  /** A value of your choosing for some secret variables (8 characters or more), instead of the kit's. */
  canaries?: Readonly<Record<string, string>>
}

/** Options of {@link startCanaryVendors}. */
export interface CanaryVendorsOptions extends CanaryOptions {
  /** Ids the app chose (`WIDGET_COMMUNITY_ID`, `CARAMELO_PROJECT_ID`): the stubs serve those. */
  env?: Readonly<Record<string, string>>
}

/** A token a stub minted during the run. */
export interface MintedToken {
  /** The adapter's name (`returning-sdk`). */
  vendor: string
  /** The token as the vendor minted it. */
  token: string
  /** Whom the server told the vendor it was for. */
  user: TokenHolder
}

/** Running stubs and what to give the app. */
export interface CanaryVendors {
  /** For the app's environment: every vendor pointed at its stub, every secret a canary. */
  env: Record<string, string>
  /** Every planted secret by variable name (`SESSION_KEYS` included): none may leave the server. */
  secrets: Record<string, string>
  /** What each stub saw, in the order started: built-ins first. */
  witnesses: StubWitness[]
  /** The adapters, by name: the token checks read whether one offers lazy frames. */
  adapters: ReadonlyMap<string, AnyVendorAdapter>
  /** Stops every stub. */
  close(): Promise<void>
}

/**
 * The kit's canary for the secret variable `name`: recognisable, long enough to scan for, and the same in
 * every process, so that a build run with {@link canarySecrets} plants the values the checks look for.
 */
export function canaryFor(name: string): string {
  const tag = createHash('sha256').update(`vite-plugin-eta-embeds canary ${name}`).digest('hex').slice(0, 12)
  return `canary-${name.toLowerCase().replaceAll('_', '-')}-${tag}`
}

/**
 * Every secret variable of the run and its canary: `SESSION_KEYS`, each adapter's `secretEnvNames`
 * (built-in and `options.vendors`), and `options.secretEnvNames`. Give them to your build, so that the
 * check of `dist/` looks for values the build saw.
 * @example execFileSync('npx', ['vite', 'build'], { env: { ...process.env, ...canarySecrets() } })
 */
export function canarySecrets(options: CanaryOptions = {}): Record<string, string> {
  const names = new Set(['SESSION_KEYS', ...(options.secretEnvNames ?? [])])
  for (const adapter of [...BUILTIN_VENDORS, ...(options.vendors ?? []).map((v) => v.adapter)]) {
    for (const name of adapter.definition.secretEnvNames ?? []) names.add(name)
  }
  const secrets: Record<string, string> = {}
  for (const name of names) {
    const value = options.canaries?.[name] ?? canaryFor(name)
    if (value.length < 8) throw new Error(`canaries.${name} must be 8 characters or longer to be searched for`)
    secrets[name] = value
  }
  return secrets
}

/** Every built-in flow with its local stub, then the app's own. */
function starters(options: CanaryOptions): TestVendor[] {
  const builtins = BUILTIN_VENDORS.map((adapter) => {
    const stub = LOCAL_VENDORS[adapter.definition.name]
    if (!stub) throw new Error(`the built-in vendor '${adapter.definition.name}' has no local stub`)
    return { adapter, stub }
  })
  return [...builtins, ...(options.vendors ?? [])]
}

/** Throws when a stub did not configure its adapter with the canaries: its checks would prove nothing. */
function checkStarted(vendor: TestVendor, started: LocalVendor, secrets: Record<string, string>): void {
  const { name, secretEnvNames = [] } = vendor.adapter.definition
  for (const secret of secretEnvNames) {
    if (started.env[secret] !== secrets[secret]) {
      throw new Error(`the stub of '${name}' answered ${secret} without the canary it was given (options.secrets)`)
    }
  }
  if (started.witness.vendor !== name) {
    throw new Error(`the stub of '${name}' answered the witness of '${started.witness.vendor}'`)
  }
  if (vendor.adapter.definition.fromEnv?.(started.env) === undefined) {
    throw new Error(`the environment the stub of '${name}' answered does not configure its adapter (fromEnv)`)
  }
}

/**
 * Starts every stub with its canaries; each one's environment is laid over `options.env` and the ones
 * before it. Stops those already started if one fails.
 */
export async function startCanaryVendors(options: CanaryVendorsOptions = {}): Promise<CanaryVendors> {
  const secrets = canarySecrets(options)
  const env: Record<string, string> = { ...options.env }
  const started: LocalVendor[] = []
  const adapters = new Map<string, AnyVendorAdapter>()
  const close = async () => {
    await Promise.all(started.map((vendor) => vendor.close()))
  }
  try {
    for (const vendor of starters(options)) {
      const names = vendor.adapter.definition.secretEnvNames ?? []
      const running = await vendor.stub(env, { secrets: Object.fromEntries(names.map((n) => [n, secrets[n] ?? ''])) })
      started.push(running)
      checkStarted(vendor, running, secrets)
      Object.assign(env, running.env)
      adapters.set(vendor.adapter.definition.name, vendor.adapter)
    }
  } catch (error) {
    await close()
    throw error
  }
  return { env: { ...env, ...secrets }, secrets, witnesses: started.map((v) => v.witness), adapters, close }
}

/** What the stubs saw after a {@link markStubs} call. */
export interface StubMark {
  /** Every token minted since, in the order of the witnesses. */
  tokens(): MintedToken[]
  /** What the stubs received from browsers since (see `witnessEntries`). */
  browserRequests(): Entry[]
  /** What the server sent the vendors since (see `serverEntries`). */
  serverRequests(): Entry[]
}

/** Where the stubs' lists of minted tokens and received requests stand now. */
export function markStubs(witnesses: readonly StubWitness[]): StubMark {
  const at = witnesses.map((witness) => ({
    witness,
    minted: witness.minted().length,
    received: witness.received().length,
  }))
  return {
    tokens: () =>
      at.flatMap(({ witness, minted }) =>
        witness
          .minted()
          .slice(minted)
          .map((m) => ({ vendor: witness.vendor, token: m.token, user: m.user })),
      ),
    browserRequests: () => at.flatMap(({ witness, received }) => witnessEntries(witness, received)),
    serverRequests: () => at.flatMap(({ witness, received }) => serverEntries(witness, received)),
  }
}
