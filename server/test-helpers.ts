/**
 * Test support only — not part of the demo. Starts the demo app on a free
 * loopback port with two tiny templates, and speaks its login form.
 */
import type { Server } from 'node:http'
import { pino, type Logger } from 'pino'
import { request } from 'undici'
import { compileTemplates } from '../plugin/runtime/test-helpers.ts'
import { demoAccounts } from './accounts.ts'
import { createApp, type AppOptions } from './app.ts'

const servers: Server[] = []

/** What a test may change about the demo it starts. */
export type DemoOptions = Partial<
  Pick<AppOptions, 'sessionKeys' | 'proxy' | 'throttle' | 'logger' | 'metricsToken' | 'shared' | 'storeSecretKeys'>
> & {
  /** Template sources by name, over the two tiny default ones. */
  templates?: Record<string, string>
}

/** Starts the demo app; resolves with its base URL. Close it with `closeDemos()`. */
export async function startDemo({ templates: sources, ...options }: DemoOptions = {}): Promise<string> {
  const templates = await compileTemplates({
    home: 'home of <%= it.user.name %>',
    login: 'login <%= it.error ?? "" %>',
    ...sources,
  })
  const logger = options.logger ?? pino({ level: 'silent' })
  const { app } = createApp({
    accounts: demoAccounts('demo-password'),
    sessionKeys: ['key-one-0123456789abcdef'],
    embeds: { logger },
    templates: () => Promise.resolve(templates),
    assets: () => '',
    ...options,
    logger,
  })
  const server = app.listen(0, '127.0.0.1')
  servers.push(server)
  await new Promise((resolve) => server.once('listening', resolve))
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('no port')
  return `http://127.0.0.1:${address.port}`
}

/** Closes every demo `startDemo()` started (call it in `afterEach`). */
export async function closeDemos(): Promise<void> {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))))
}

/** POSTs the login form. */
export function login(base: string, email: string, password: string, headers: Record<string, string> = {}) {
  return request(`${base}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ email, password }).toString(),
  })
}

/** The `Cookie` header that sends back what a response set. */
export function cookies(res: { headers: Record<string, string | string[] | undefined> }): string {
  const set = res.headers['set-cookie']
  return (Array.isArray(set) ? set : [set ?? ''])
    .map((c) => c.split(';')[0])
    .filter((c): c is string => Boolean(c))
    .join('; ')
}

/** A pino logger that keeps every line it writes, parsed. */
export function recordingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  )
  return { logger, lines }
}
