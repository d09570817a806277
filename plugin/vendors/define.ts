/**
 * What a vendor adapter is: the one interface every vendor flow implements,
 * built-in or the app's own. A directive's vocabulary (its attributes and
 * their rules) is pure data the compiler reads; the rest runs at request
 * time. Nothing outside an adapter's folder knows what its vendor does.
 */
import type { Dispatcher } from 'undici'
import type { VendorAnswer } from '../runtime/http/request.ts'
import type { SharedState } from '../runtime/store/shared.ts'

/** A rule for one attribute value: `undefined` when valid, else a short reason (`expected one of light, dark`). */
export type AttributeRule = (value: string) => string | undefined

/** The verified identity a page is rendered for. It comes from the session, never from the request. */
export interface EmbedsUser {
  /** Immutable id (sent as the vendor's customer id). */
  id: string
  email: string
  name: string
  /** Preferred language tag, e.g. `en` or `pt-BR`. */
  lang?: string
}

/** Environment variables, as `process.env`. */
export type Env = Readonly<Record<string, string | undefined>>

/** A request to a vendor, as an adapter writes it; the runtime adds the deadline, the size cap and the pool. */
export interface VendorHttpRequest {
  url: URL
  method: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  /** Another dispatcher than the shared pool (a cache the adapter made in `create`). */
  dispatcher?: Dispatcher
}

/** What the runtime lends an adapter when it creates its resources. */
export interface VendorServices {
  /** The shared keep-alive pool for vendor calls. */
  dispatcher: Dispatcher
  /** Largest vendor answer read, in bytes. */
  maxResponseBytes: number
  /** The deadline of one directive, in milliseconds. */
  timeoutMs: number
  /** The clock, in milliseconds. */
  now: () => number
  /**
   * An opaque key for a user (an HMAC), for caches: they never hold an email
   * or an id. With `options.shared` every instance computes the same key.
   */
  userKey: (user: EmbedsUser) => string
  /**
   * The store shared by every instance (`options.shared`), behind calls that
   * never reject (a failing store answers `undefined`); unset without one.
   */
  shared: SharedState | undefined
  /** Counts a cache lookup of `kind` (one of the adapter's `caches`); `miss` when it went to the vendor. */
  cacheLookup: (kind: string) => void
  cacheMiss: (kind: string) => void
}

/** One directive to resolve, for one user, under its deadline. */
export interface EmbedRequest<Config, Resources> {
  config: Config
  resources: Resources
  /** The directive's attribute values, literal and `{expression}`, all checked by the rules. */
  attributes: Readonly<Record<string, string>>
  user: EmbedsUser
  /** The page's CSP nonce: every script emitted or passed through carries it. */
  nonce: string
  /** The request's `Accept-Language` header. */
  acceptLanguage: string | undefined
  /** The directive's deadline; `http` already honours it. */
  signal: AbortSignal
  /**
   * Sends one request to the vendor under the deadline, reads at most
   * `maxResponseBytes`, and throws a `VendorError` (never quoting the body)
   * for a network failure, a timeout or a status outside 2xx.
   */
  http: (request: VendorHttpRequest) => Promise<VendorAnswer>
}

/** What a directive renders. `once` is HTML the page needs once however many directives ask (an SDK script). */
export interface Embed {
  html: string
  once?: { key: string; html: string }
}

/** The room an embed takes in the page, in CSS pixels. */
export interface SlotSize {
  height: number
}

/**
 * A widget that can also be served as a document of its own, in an
 * `<iframe loading="lazy">`: the runtime's lazy route answers it for the
 * session's user behind a signed URL and a per-user budget.
 */
export interface LazyDocument<Config, Resources> {
  /** The whole document for the request's user (its scripts carry `request.nonce`). */
  document(request: EmbedRequest<Config, Resources>): Promise<string>
  /** The `<iframe>` that points at `src` (already signed; encode it for the attribute). */
  frame(src: string, attributes: Readonly<Record<string, string>>): string
  /** Extra CSP directives for the document (for example `sandbox …`). */
  csp?: readonly string[]
}

/**
 * A vendor flow. `Options` is what users pass (`adapter(options)`), `Config`
 * what `resolve` makes of it, `Resources` what `create` makes once per runtime.
 */
export interface VendorDefinition<Options, Config, Resources = undefined> {
  /** Unique name: the label of its logs, metrics and circuit breaker (`returning-proxy`). */
  name: string
  /** The directive it answers: `<<widget>>` is `'widget'`. Several adapters may share one as flows. */
  directive: string
  /** Its flow name when a directive has several (`flow="sdk"`); the first configured flow is the default. */
  flow?: string
  /** A readable name for messages (`Returning.AI Widget SDK`). */
  title: string
  /**
   * Attributes and the rule each value meets. `fallback` is every
   * directive's, `flow` every multi-flow directive's, `loading` a lazy one's:
   * the runtime adds those.
   */
  attributes: Readonly<Record<string, AttributeRule>>
  /** Why a page holds at most one of this directive (`a page can hold at most one chatbot`); unset: any number. */
  onePerPage?: string
  /** Environment variables whose values are secrets: the build fails if one appears in its output. */
  secretEnvNames?: readonly string[]
  /** Cache kinds it counts (`services.cacheLookup(kind)`), shown in the metrics. */
  caches?: readonly string[]
  /** Options from environment variables, or `undefined` when its secret is unset. */
  fromEnv?(env: Env): Options | undefined
  /**
   * Checks `options` and fills defaults. Pure: it creates nothing. Throws a
   * `TypeError` whose message starts with `path` (`options.vendors[0].apiKey`).
   */
  resolve(options: Options, path: string): Config
  /** What keeps a directive with these attributes from being resolved (a config mistake), or `undefined`. */
  missing?(config: Config, attributes: Readonly<Record<string, string>>): string | undefined
  /**
   * The room a directive's embed will take in the page, or `undefined` when
   * it takes none (a floating chatbot) or cannot tell. While its vendor
   * answers, out-of-order streaming holds a placeholder of this size where
   * the directive stands, so nothing else on the page moves when it arrives.
   */
  slot?(config: Config, attributes: Readonly<Record<string, string>>): SlotSize | undefined
  /** Origins its documents load from, for the page's CSP `base-uri`. */
  origins?(config: Config): readonly string[]
  /** Its caches and other per-runtime resources, made once. */
  create?(config: Config, services: VendorServices): Resources
  /** Resolves one directive for one user to HTML. */
  embed(request: EmbedRequest<Config, Resources>): Promise<string | Embed>
  /** Set when `loading="lazy"` is offered. */
  lazy?: LazyDocument<Config, Resources>
}

/** A vendor adapter: call it with its options to configure it for the runtime. */
export interface VendorAdapter<Options = never, Config = unknown, Resources = unknown> {
  (options: Options): ConfiguredVendor
  readonly definition: VendorDefinition<Options, Config, Resources>
}

/**
 * Any adapter, its types erased: what lists of adapters hold. Each adapter
 * checks its own options in `resolve`, so the erased types lose no safety.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the erased form of VendorAdapter<Options, Config, Resources>
export type AnyVendorAdapter = VendorAdapter<any, any, any>
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- likewise
export type AnyVendorDefinition = VendorDefinition<any, any, any>

/** An adapter with its options, as the runtime's `vendors` option takes it. */
export interface ConfiguredVendor {
  readonly definition: AnyVendorDefinition
  readonly options: unknown
}

/**
 * Declares a vendor flow. Register the result with the Vite plugin
 * (`etaEmbeds({ vendors: [acme] })`: its directive is known to the compiler)
 * and, configured, with the runtime (`embeds({ vendors: [acme({ … })] })`).
 * @example
 * export const acme = defineVendor({ name: 'acme', directive: 'acme', title: 'Acme', attributes: {}, … })
 */
export function defineVendor<Options, Config, Resources = undefined>(
  definition: VendorDefinition<Options, Config, Resources>,
): VendorAdapter<Options, Config, Resources> {
  const configure = (options: Options): ConfiguredVendor => ({ definition, options })
  return Object.assign(configure, { definition })
}
