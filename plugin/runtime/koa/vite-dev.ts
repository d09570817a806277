/**
 * Development in a user's own Koa app, in one call (issue 15):
 * `embeds({ templates: await viteDev() })`. The middleware then answers
 * Vite's requests, puts Vite's client in every page it renders, and shows a
 * failed render in Vite's overlay — what an app would otherwise have to wire
 * from Vite's backend-integration guide by hand.
 *
 * No listener of its own: Vite runs in middleware mode, and its HMR
 * WebSocket is served on the app's own server, where the app put it
 * (127.0.0.1 in the README), instead of Vite's default `*:24678`.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Server as NetServer } from 'node:net'
import path from 'node:path'
import type { Duplex } from 'node:stream'
import type { InlineConfig, Plugin, ViteDevServer } from 'vite'
import type { TemplateMap } from '../../template-module.ts'
import { viteTemplates, viteTemplatesVersion } from './templates.ts'

export interface ViteDevOptions {
  /**
   * The folder of your `vite.config.*` (Vite's root), which the templates
   * folder is in. @default process.cwd()
   */
  root?: string
  /**
   * More Vite config, over your config file's (Vite's inline config). Set
   * `server.ws` here, or in the config file, to serve HMR elsewhere than on
   * your app's own server.
   */
  config?: InlineConfig
  /**
   * A Vite dev server of your own, in middleware mode, to use instead of
   * starting one; it keeps its own `server.ws`, and closing it stays yours.
   */
  vite?: ViteDevServer
}

/** What `viteDev()` resolves with: `embeds({ templates })` takes it as it is. */
export type ViteDevTemplates = (() => Promise<TemplateMap>) & {
  /** The Vite dev server. */
  readonly vite: ViteDevServer
  /** Closes the dev server if `viteDev()` started it (`embeds(…).close()` calls this). */
  close(): Promise<void>
}

/** What the middleware needs of a development source; found on it under `DEV_SOURCE`. */
export interface DevSource {
  /** The templates version, read before a render (see `errorOverlayPage`). */
  templatesVersion(): number
  /** Vite's URL base (`/` unless configured). */
  base: string
  /**
   * Lets Vite answer the request when it is one of Vite's (its client, a
   * module, a public file); resolves whether it did.
   */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>
  /** Reports a failed render in Vite's terminal. */
  report(message: string): void
}

export const DEV_SOURCE = Symbol.for('vite-plugin-eta-embeds:dev-source')

/** The development source a `templates` option carries, if it is one. */
export function devSourceOf(templates: unknown): DevSource | undefined {
  return (templates as { [DEV_SOURCE]?: DevSource } | undefined)?.[DEV_SOURCE]
}

const HMR_PROTOCOLS = new Set(['vite-hmr', 'vite-ping'])

type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void

/**
 * Starts a Vite dev server in middleware mode for `embeds({ templates })`
 * (or takes `options.vite`): templates compiled on request, fresh after each
 * edit, and — through the middleware — Vite's client, HMR and overlay in the
 * app's pages. Import it only in development: it loads `vite`.
 */
export async function viteDev(options: ViteDevOptions = {}): Promise<ViteDevTemplates> {
  // HMR upgrades reach Vite through this server, which never listens: the
  // middleware hands it each upgrade its app's servers receive.
  const hmrRelay = createHttpServer()
  const relayed = new Map<NetServer, UpgradeListener>()
  const own = !options.vite
  const vite = options.vite ?? (await startVite(options, hmrRelay))
  if (!vite.config.server.middlewareMode) {
    throw new TypeError('options.vite must be a Vite dev server in middleware mode (server: { middlewareMode: true })')
  }
  const { ws } = vite.config.server
  const relaysHmr = ws !== false && ws?.server === hmrRelay
  const source: DevSource = {
    templatesVersion: viteTemplatesVersion(vite),
    base: vite.config.base,
    report: (message) => vite.config.logger.error(message, { timestamp: true }),
    handle: (req, res) => {
      if (relaysHmr) relayUpgrades(req, hmrRelay, relayed)
      return connectHandled(vite.middlewares, req, res)
    },
  }
  let closed: Promise<void> | undefined
  const close = (): Promise<void> => {
    closed ??= (async () => {
      for (const [server, relay] of relayed) server.off('upgrade', relay)
      relayed.clear()
      if (own) await vite.close()
    })()
    return closed
  }
  return Object.assign(viteTemplates(vite), { vite, close, [DEV_SOURCE]: source })
}

async function startVite(options: ViteDevOptions, hmrRelay: Server): Promise<ViteDevServer> {
  const { createServer } = await import('vite')
  const root = path.resolve(options.root ?? process.cwd())
  return createServer({
    ...options.config,
    root: options.config?.root ?? root,
    appType: 'custom',
    server: { ...options.config?.server, middlewareMode: true },
    plugins: [...(options.config?.plugins ?? []), hmrOnAppServer(hmrRelay)],
  })
}

/**
 * Points Vite's HMR WebSocket at the relay, unless the config (file or
 * inline) says where it goes: a config hook sees both merged.
 */
function hmrOnAppServer(hmrRelay: Server): Plugin {
  return {
    name: 'vite-plugin-eta-embeds:hmr-on-app-server',
    config(config) {
      const { ws, hmr } = config.server ?? {}
      // `server.hmr`'s port, host and server are Vite 8's deprecated spellings of `server.ws`'s.
      const hmrSays = typeof hmr === 'object' && ['port', 'host', 'server', 'clientPort'].some((key) => key in hmr)
      if (ws !== undefined || hmr === false || hmrSays) return
      return { server: { ws: { server: hmrRelay } } }
    },
  }
}

/**
 * Relays the HMR upgrades of the server `req` came in on (once per server):
 * Vite's client connects to the page's own origin. Any other upgrade is left
 * to the app's own listeners, or refused when there are none.
 */
function relayUpgrades(req: IncomingMessage, hmrRelay: Server, relayed: Map<NetServer, UpgradeListener>): void {
  // The server that accepted the connection (set by net.Server on each socket it accepts).
  const server = (req.socket as { server?: NetServer }).server
  if (!server || relayed.has(server)) return
  const relay: UpgradeListener = (upgrade, socket, head) => {
    if (HMR_PROTOCOLS.has(String(upgrade.headers['sec-websocket-protocol']))) {
      hmrRelay.emit('upgrade', upgrade, socket, head)
    } else if (server.listenerCount('upgrade') === 1) {
      socket.destroy()
    }
  }
  relayed.set(server, relay)
  server.on('upgrade', relay)
}

type ConnectHandler = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void

/** Runs a connect-style handler; resolves true when it answered, false when it passed the request on. */
function connectHandled(handler: ConnectHandler, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    const answered = (): void => resolve(true)
    // 'close' too: a client that goes away before the end never sees 'finish'.
    res.once('finish', answered).once('close', answered)
    handler(req, res, (err) => {
      res.off('finish', answered).off('close', answered)
      if (err) reject(err instanceof Error ? err : new Error('Vite middleware failed', { cause: err }))
      else resolve(false)
    })
  })
}
