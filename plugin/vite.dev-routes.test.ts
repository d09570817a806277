/**
 * Issue 9, hole 3: a real Vite dev server with the plugin — listening on its
 * own, in middleware mode, and under a `base` — asked for every secret or
 * server-side file through every URL shape Vite understands. Each answer must
 * be a refusal without the file's content; the client's own files still load.
 */
import { randomBytes } from 'node:crypto'
import { createServer as createHttpServer, request, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, type InlineConfig, type ViteDevServer } from 'vite'
import { fixtureConfig, makeFixture, removeFixture } from './guards/test-helpers.ts'

const mark = (name: string): string => `marker-${name.replace(/\W/g, '_')}-${randomBytes(6).toString('hex')}`

/** Files no browser may read, each holding its own marker. */
const DENIED: Record<string, string> = Object.fromEntries(
  [
    '.env',
    '.envrc',
    '.env~',
    '.env_local',
    '.env.local',
    'sub/.env.x',
    'dist/server/templates.js',
    'dist/client/x.js',
    'load/x.ts',
    'server/x.ts',
    'templates/x.eta',
  ].map((file) => [file, mark(file)]),
)
const MARKERS = Object.values(DENIED)

/** What the client needs: its source and a public file. */
const CLIENT_MARKER = mark('client')
const PUBLIC_MARKER = mark('public')

/** The content of a denied file: valid for its kind, so a transform would pass it through. */
function content(file: string, marker: string): string {
  if (/\.[jt]s$/.test(file)) return `export const marker = '${marker}'\n`
  if (file.endsWith('.eta')) return `<p>${marker}</p>\n`
  return `MARKER=${marker}\n`
}

/** Query suffixes Vite gives a meaning to. */
const QUERIES = [
  '',
  '?raw',
  '?import',
  '?url',
  '?inline',
  '?worker',
  '?sharedworker',
  '?worker_file&type=module',
  '?import&raw',
  '?direct',
  '?t=1',
]

/** As a module script asks (Vite transforms it), and as a plain fetch. */
const HEADER_SETS: Record<string, string>[] = [{ 'sec-fetch-dest': 'script' }, { accept: '*/*' }]

/** Every character percent-encoded, `/` included. */
const encodeAll = (text: string): string =>
  [...Buffer.from(text)].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('')

/** URL paths (before the base) that name `file`; `root` is the fixture's absolute path, URL-encoded. */
function pathShapes(file: string, root: string): string[] {
  const backslashed = file.replaceAll('/', '\\')
  return [
    `/${file}`,
    `/./${file}`,
    `/client/../${file}`,
    `/client//../${file}`,
    `/client/%2e%2e/${file}`,
    `/client/%2E%2E/${file}`,
    `/client%2f..%2f${file}`,
    `/${file.replaceAll('/', '%2f')}`,
    `/${file.replace(/(^|\/)\./g, '$1%2e')}`,
    `/${encodeAll(file)}`,
    `/${encodeAll(file).replaceAll('%', '%25')}`,
    `/client/%252e%252e/${file}`,
    `/client\\..\\${backslashed}`,
    `/${backslashed}`,
    `/@fs${root}/${file}`,
    `/@fs${root}/client/../${file}`,
    `/@fs${root}/client/%2e%2e/${file}`,
    `/@fs${root}\\${backslashed}`,
    `/@id/${file}`,
    `/@id${root}/${file}`,
    `/@id/${root}/${file}`,
  ]
}

interface Answer {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

/** A GET with the path sent as written: `fetch` would resolve `..` and `%2e%2e` first. */
function get(origin: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const { hostname, port } = new URL(origin)
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      )
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** Runs `task` over `items`, a few at a time: thousands of requests, without flooding a small machine. */
async function eachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) await task(items[next++] as T)
  }
  await Promise.all(Array.from({ length: limit }, worker))
}

interface Running {
  origin: string
  /** The URL prefix: `''`, or the base without its trailing slash. */
  prefix: string
  close(): Promise<void>
}

const SERVER_NAMES = ['listening', 'middleware mode', "base '/app/'"] as const

let root = ''
let encodedRoot = ''
const servers: Partial<Record<(typeof SERVER_NAMES)[number], Running>> = {}

async function listening(config: InlineConfig, prefix = ''): Promise<Running> {
  const vite = await createServer(
    fixtureConfig(root, {}, { ...config, server: { port: 0, host: '127.0.0.1', ws: false } }),
  )
  await vite.listen()
  const { port } = vite.httpServer!.address() as AddressInfo
  return { origin: `http://127.0.0.1:${port}`, prefix, close: () => vite.close() }
}

/** Vite's middlewares mounted on a plain Node server, the way an app's own server wires them. */
async function middlewareMode(): Promise<Running> {
  const vite: ViteDevServer = await createServer(
    fixtureConfig(root, {}, { server: { middlewareMode: true, ws: false }, appType: 'custom' }),
  )
  const server = createHttpServer(vite.middlewares)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    prefix: '',
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await vite.close()
    },
  }
}

beforeAll(async () => {
  root = await makeFixture({
    ...Object.fromEntries(Object.entries(DENIED).map(([file, marker]) => [file, content(file, marker)])),
    'client/main.ts': `console.log('${CLIENT_MARKER}')\n`,
    'public/ok.txt': `${PUBLIC_MARKER}\n`,
  })
  encodedRoot = encodeURI(root)
  servers['listening'] = await listening({})
  servers['middleware mode'] = await middlewareMode()
  servers["base '/app/'"] = await listening({ base: '/app/' }, '/app')
}, 30_000)

afterAll(async () => {
  for (const server of Object.values(servers)) await server.close()
  if (root) await removeFixture(root)
})

describe.each(SERVER_NAMES)('the dev server (%s)', (name) => {
  it.each(Object.keys(DENIED))(
    'refuses %s through every route',
    async (file) => {
      const { origin, prefix } = servers[name]!
      const urls = pathShapes(file, encodedRoot).flatMap((shape) => QUERIES.map((query) => prefix + shape + query))
      const leaks: string[] = []
      await eachLimited(urls, 8, async (url) => {
        for (const headers of HEADER_SETS) {
          const { status, body } = await get(origin, url, headers)
          const shown = MARKERS.filter((marker) => body.includes(marker))
          if (status !== 200 && !shown.length) continue
          leaks.push(`${status} ${url} ${JSON.stringify(headers)}${shown.length ? ' (content shown)' : ''}`)
        }
      })
      expect(leaks).toEqual([])
    },
    60_000,
  )

  it('serves the client entry, a public file and Vite’s client', async () => {
    const { origin, prefix } = servers[name]!
    const main = await get(origin, `${prefix}/client/main.ts`)
    expect(main.status).toBe(200)
    expect(main.body).toContain(CLIENT_MARKER)
    const ok = await get(origin, `${prefix}/ok.txt`)
    expect(ok.status).toBe(200)
    expect(ok.body).toContain(PUBLIC_MARKER)
    expect((await get(origin, `${prefix}/@vite/client`)).status).toBe(200)
  })

  it('sends no CORS header to another origin', async () => {
    const { origin, prefix } = servers[name]!
    const answer = await get(origin, `${prefix}/client/main.ts`, { origin: 'http://localhost:9999' })
    expect(answer.headers['access-control-allow-origin']).toBeUndefined()
  })
})
