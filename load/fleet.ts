/**
 * A fleet for the shared-state tests (issue 11): several production
 * instances on one Redis and the vendor stubs, with the same `SESSION_KEYS`
 * (the fleet's common secret), behind an imaginary round-robin balancer.
 */
import { Redis } from 'ioredis'
import { request } from 'undici'
import type { Vendors } from './client.ts'
import { serverEnv, startServer, type ServerProcess } from './server.ts'

/** The demo's accounts (server/accounts.ts): what must never be readable in Redis. */
export const ALICE = { email: 'alice@example.com', id: 'usr_alice_5f1c2a' } as const
export const BOB = { email: 'bob@example.com', id: 'usr_bob_9d7e40' } as const
/** `DEMO_LOAD_USERS` accounts: `load-user-<i>@example.com`, id `usr_load_<i>`. */
export const loadUser = (i: number): { email: string; id: string } => ({
  email: `load-user-${i}@example.com`,
  id: `usr_load_${i}`,
})

/**
 * The environment of one fleet instance: Redis, reused Returning.AI tokens,
 * `load` extra accounts, and one trusted proxy, so a test can give each bad
 * login its own client address (`X-Forwarded-For`) and lock an account, not
 * the loopback address every other request comes from.
 *
 * Its deadlines are far above what a busy machine needs: these are not
 * latency tests. At the default 100 ms per Redis command, a machine at load 15
 * saw answers late; each instance then rightly logged an outage and worked
 * from memory, and a count of fetches or of outage lines came out wrong by
 * chance. A killed Redis fails commands at once, in flight or not, whatever
 * the deadline. At the default 2 s per directive a page lost an embed there;
 * what a page does at its deadline is `load/faults.test.ts`'s subject.
 */
export function fleetEnv(vendors: Vendors, redisUrl: string, loadUsers: number): Record<string, string> {
  return serverEnv(vendors.urls, {
    REDIS_URL: redisUrl,
    REDIS_TIMEOUT_MS: '5000',
    EMBEDS_TIMEOUT_MS: '10000',
    EMBEDS_REUSE_WIDGET_TOKENS: '1',
    DEMO_LOAD_USERS: String(loadUsers),
    DEMO_LOAD_MODE: '1',
    TRUST_PROXY: '1',
  })
}

/** Starts `count` instances with `env`, all at once; if one fails, the others are stopped. */
export async function startFleet(count: number, env: Record<string, string>): Promise<ServerProcess[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, () => startServer(env)))
  const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
  const failed = started.find((s) => s.status === 'rejected')
  if (failed) {
    await Promise.all(servers.map((s) => s.stop()))
    throw failed.reason
  }
  return servers
}

/** Whether the process is still running: its exit, if any, has been seen by the next turn of the event loop. */
export async function running(server: ServerProcess): Promise<boolean> {
  const turn = new Promise<false>((resolve) => setImmediate(() => resolve(false)))
  return !(await Promise.race([server.exited.then(() => true), turn]))
}

/** `POST /login` with a wrong password from `address` (through the trusted proxy); the status. */
export async function badLogin(base: string, email: string, address: string): Promise<number> {
  const res = await request(`${base}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': address },
    body: new URLSearchParams({ email, password: 'not-the-password' }).toString(),
  })
  await res.body.dump()
  return res.statusCode
}

/** `POST /logout` with the session cookie; throws unless it answered the redirect to /login. */
export async function logout(base: string, cookie: string): Promise<void> {
  const res = await request(`${base}/logout`, { method: 'POST', headers: { cookie } })
  await res.body.dump()
  if (res.statusCode !== 302 || res.headers['location'] !== '/login') {
    throw new Error(`logout answered ${res.statusCode} ${String(res.headers['location'])}, expected 302 /login`)
  }
}

/** `GET /` with the cookie, without following a redirect: its status and `Location`. */
export async function homeStatus(base: string, cookie: string): Promise<[number, string | undefined]> {
  const res = await request(`${base}/`, { headers: { cookie } })
  await res.body.dump()
  const location = res.headers['location']
  return [res.statusCode, typeof location === 'string' ? location : undefined]
}

/**
 * Every form a secret could take in a stored key or value: raw, URL-encoded,
 * hex (both cases), and base64/base64url at each of the three byte
 * alignments (a secret inside a longer encoded blob): the characters that
 * depend on the secret alone, its first and last few left out.
 */
export function encodedForms(secret: string): string[] {
  const bytes = Buffer.from(secret)
  const forms = new Set([
    secret,
    encodeURIComponent(secret),
    bytes.toString('hex'),
    bytes.toString('hex').toUpperCase(),
  ])
  for (const encoding of ['base64', 'base64url'] as const) {
    for (let offset = 0; offset < 3; offset++) {
      const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString(encoding)
      forms.add(encoded.slice(Math.ceil((offset * 4) / 3), -4))
    }
  }
  return [...forms]
}

/** One Redis key and everything stored under it, as bytes. */
export interface StoredEntry {
  key: Buffer
  type: string
  values: Buffer[]
}

/**
 * Every key of the Redis at `url` (all prefixes, `SCAN`) with its content,
 * read as its type requires, so a scan misses nothing a library wrote.
 */
export async function redisContents(url: string): Promise<StoredEntry[]> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await client.connect()
  try {
    const entries: StoredEntry[] = []
    let cursor = '0'
    do {
      const [next, keys] = await client.scanBuffer(cursor, 'COUNT', 500)
      cursor = String(next)
      for (const key of keys) entries.push({ key, ...(await readEntry(client, key)) })
    } while (cursor !== '0')
    return entries
  } finally {
    client.disconnect()
  }
}

async function readEntry(client: Redis, key: Buffer): Promise<{ type: string; values: Buffer[] }> {
  const type = await client.type(key)
  switch (type) {
    case 'string': {
      const value = await client.getBuffer(key)
      return { type, values: value ? [value] : [] }
    }
    case 'hash':
      return { type, values: Object.entries(await client.hgetallBuffer(key)).flatMap(([f, v]) => [Buffer.from(f), v]) }
    case 'list':
      return { type, values: await client.lrangeBuffer(key, 0, -1) }
    case 'set':
      return { type, values: await client.smembersBuffer(key) }
    case 'zset':
      return { type, values: await client.zrangeBuffer(key, '0', '-1') }
    case 'none':
      // Expired between SCAN and TYPE.
      return { type, values: [] }
    default:
      throw new Error(`key of unexpected type '${type}': the scan cannot read it`)
  }
}
