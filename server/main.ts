/**
 * Starts the demo server: `--dev` runs Vite in middleware mode (HMR, templates
 * compiled on request); without it the production build in `dist/` is served.
 */
import { existsSync } from 'node:fs'
import { createServer } from 'node:http'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { send } from '@koa/send'
import type { Middleware } from 'koa'
import { pino, type Logger } from 'pino'
import { builtTemplates, viteDev, type TemplateMap } from '../plugin/runtime/index.ts'
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
  /** The runtime's `templates`: in development, `viteDev()`'s, which also serves Vite's requests and overlay. */
  templates: () => Promise<TemplateMap>
  assets: AssetTags
  fallthrough?: Middleware
}

async function devFrontend(root: string): Promise<Frontend> {
  // The call a user's own app makes (README, "Add it to your app").
  // The app's `embeds(…).close()` closes the dev server this starts.
  return { templates: await viteDev({ root }), assets: devAssets() }
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
  const frontend = dev ? await devFrontend(root) : await buildFrontend(root)
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
    logger,
  })
  const handle = demo.app.callback()
  const server = createServer((req, res) => void handle(req, res))
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
