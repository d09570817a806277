/**
 * Starts the demo server: `--dev` runs Vite in middleware mode (HMR, templates
 * compiled on request); without it the production build in `dist/` is served.
 */
import { existsSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { send } from '@koa/send'
import type { Middleware } from 'koa'
import { pino, type Logger } from 'pino'
import { builtTemplates, viteTemplates, viteTemplatesVersion, type TemplateMap } from '../plugin/runtime/index.ts'
import { demoAccounts } from './accounts.ts'
import { createApp } from './app.ts'
import { buildAssets, devAssets, type AssetTags } from './assets.ts'
import { lazySigningKeys, loadConfig, loadDotEnv, storeSecretKeys } from './config.ts'
import { openShared } from './shared.ts'

/** The project root: the nearest folder above this file holding a package.json. */
function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir)
    if (up === dir) throw new Error('cannot find the project root (no package.json above server/main)')
    dir = up
  }
  return dir
}

interface Frontend {
  templates: () => Promise<TemplateMap>
  /** Development: the templates version, for error pages that must not miss a fix. */
  templatesVersion?: () => number
  /** Reports a failed render; in development, through Vite's own terminal logger. */
  reportError?: (message: string) => void
  assets: AssetTags
  fallthrough: Middleware
  close(): Promise<void>
}

async function devFrontend(root: string, httpServer: Server): Promise<Frontend> {
  const { createServer } = await import('vite')
  // HMR's WebSocket shares our port instead of opening Vite's default 24678,
  // so several dev servers (and the e2e suite) can run side by side.
  const vite = await createServer({
    root,
    server: { middlewareMode: true, hmr: { server: httpServer } },
    appType: 'custom',
  })
  return {
    templates: viteTemplates(vite),
    templatesVersion: viteTemplatesVersion(vite),
    reportError: (message) => vite.config.logger.error(message, { timestamp: true }),
    assets: devAssets(),
    fallthrough: (ctx, next) => {
      // Only Vite's own and the client's URLs reach Vite: it would otherwise
      // serve any file under the root, server sources included.
      if (!/^\/(@|client\/|node_modules\/)/.test(ctx.path)) return next()
      return connectToKoa(vite.middlewares, ctx, next)
    },
    close: () => vite.close(),
  }
}

function connectToKoa(
  handler: (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void,
  ctx: Parameters<Middleware>[0],
  next: () => Promise<void>,
): Promise<void> {
  return new Promise<boolean>((resolve, reject) => {
    ctx.res.once('finish', () => resolve(true))
    handler(ctx.req, ctx.res, (err) => {
      if (err) reject(err instanceof Error ? err : new Error('Vite middleware failed', { cause: err }))
      else resolve(false)
    })
  }).then((handled) => {
    if (!handled) return next()
    ctx.respond = false
  })
}

async function buildFrontend(root: string): Promise<Frontend> {
  const clientDir = path.join(root, 'dist', 'client')
  const serverEntry = path.join(root, 'dist', 'server', 'templates.js')
  const templates = builtTemplates(serverEntry)
  await templates() // fail at start, not on the first request, when the build is missing
  return {
    templates,
    assets: buildAssets(clientDir),
    fallthrough: async (ctx, next) => {
      if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || !ctx.path.startsWith('/assets/')) {
        await next()
        return
      }
      // Hashed file names: safe to cache for a year.
      await send(ctx, ctx.path, { root: clientDir, immutable: true, maxage: 365 * 24 * 3600 * 1000 })
    },
    close: () => Promise.resolve(),
  }
}

/** How long in-flight requests get to finish at shutdown before their sockets are cut. */
const SHUTDOWN_GRACE_MS = 10_000

export interface RunningServer {
  url: string
  close(): Promise<void>
}

/** Starts the server and resolves once it listens. */
export async function start({ dev, logger }: { dev: boolean; logger: Logger }): Promise<RunningServer> {
  const root = projectRoot()
  loadDotEnv(root)
  const config = await loadConfig(process.env, logger, dev)
  const secretKeys = storeSecretKeys(config.sessionKeys)
  // One store for the runtime, the throttle and revocations; an unreachable Redis does not stop the start.
  const shared = config.redisUrl
    ? await openShared(config.redisUrl, secretKeys, logger, config.redisTimeoutMs)
    : undefined
  const server = createServer()
  const frontend = dev ? await devFrontend(root, server) : await buildFrontend(root)
  const demo = createApp({
    shared,
    storeSecretKeys: secretKeys,
    accounts: demoAccounts(config.demoPassword, { loadUsers: config.loadUsers }),
    sessionKeys: config.sessionKeys,
    proxy: config.proxy,
    metricsToken: config.metricsToken,
    stream: config.stream,
    embeds: {
      vendors: config.vendors,
      timeoutMs: config.timeoutMs,
      lazySigningKeys: lazySigningKeys(config.sessionKeys),
      logger,
    },
    templates: frontend.templates,
    assets: frontend.assets,
    fallthrough: frontend.fallthrough,
    reportError: frontend.reportError,
    templatesVersion: frontend.templatesVersion,
    logger,
    dev,
  })
  const handle = demo.app.callback()
  server.on('request', (req, res) => void handle(req, res))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.port, config.host, () => resolve())
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`
  logger.info({ url, mode: dev ? 'development' : 'production' }, `demo listening on ${url}`)
  return {
    url,
    close: async () => {
      // Stop accepting; idle keep-alive sockets go now, requests in flight
      // (a page waiting on its vendors) finish first — within a bound.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeIdleConnections()
      const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS)
      await closed
      clearTimeout(force)
      await demo.close()
      await shared?.store.close()
      await frontend.close()
      await config.close()
    },
  }
}

/** Runs the server until SIGINT/SIGTERM: `--dev` for development, else production. */
export async function runCli(argv: string[]): Promise<void> {
  const dev = argv.includes('--dev')
  if (!dev) process.env['NODE_ENV'] ??= 'production'
  const logger = pino({ name: 'demo' })
  const running = await start({ dev, logger })
  const stop = (): void => {
    logger.info('shutting down: finishing requests in flight')
    running.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

const isMain = process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url
if (isMain) await runCli(process.argv.slice(2))
