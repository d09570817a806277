/**
 * The shared store on Redis, through ioredis, built so that Redis is never a
 * single point of failure (issue 11):
 *
 * - every command has a deadline (`timeoutMs`): a slow or hung Redis costs a
 *   caller at most that, then a `StoreUnavailableError`;
 * - nothing queues while Redis is unreachable (`enableOfflineQueue: false`):
 *   a command then rejects at once instead of waiting for a reconnection, so
 *   memory cannot grow without bound during an outage, and a command that timed
 *   out is never replayed later (`autoResendUnfulfilledCommands: false`);
 * - the client reconnects on its own, forever, with a capped backoff: Redis
 *   back means the store is used again, with no restart;
 * - construction connects to nothing (`lazyConnect`) and never throws for an
 *   unreachable Redis; `connect()` says whether Redis answered, and the caller
 *   logs that one line;
 * - connection errors are listened to here, so they never become an unhandled
 *   'error' event; each failed command reports its own.
 */
import { Redis } from 'ioredis'
import { integer, withoutUserInfo } from '../check.ts'
import { checkKey, checkTtl, checkValue, StoreUnavailableError, type SharedStore } from './store.ts'

export interface RedisStoreOptions {
  /**
   * Where Redis is: `redis://[[user]:password@]host[:port][/db]`, or
   * `rediss://` for TLS (the `REDIS_URL` of the demo).
   * @example 'redis://127.0.0.1:6379/0'
   */
  url: string
  /**
   * Deadline of each command, in milliseconds, from the call to the reply.
   * A connection that sends nothing back for ten times this (at least a
   * second) while commands wait is dropped and made again, so a hung Redis
   * cannot make unanswered commands pile up.
   * @default 100
   */
  timeoutMs?: number
  /**
   * Deadline of one connection attempt, in milliseconds (a Redis host that
   * drops packets is given up on after this, and tried again later).
   * @default 1000
   */
  connectTimeoutMs?: number
  /**
   * Longest wait between two reconnection attempts, in milliseconds: Redis
   * back is used again at most this long after it answers.
   * @default 1000
   */
  maxReconnectDelayMs?: number
  /**
   * Prepended to every key, so that one Redis can serve several applications
   * (or tests) without them seeing each other's keys.
   * @default 'eta-embeds:'
   */
  keyPrefix?: string
}

// INCR, and PEXPIRE only when the counter is new (or was left without an
// expiry): a fixed window that the increments themselves do not extend.
// One script, so no other client sees the counter without its expiry.
const INCREMENT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count`

/** `SharedStore` on Redis. Create it, `connect()` it once, `close()` it on shutdown. */
export class RedisStore implements SharedStore {
  /**
   * The ioredis client, for a library that speaks Redis itself (the demo's
   * login throttle, `RateLimiterRedis`). It keeps this store's deadlines and
   * reconnection; keys written through it are not prefixed (add `keyPrefix`),
   * and the store closes it.
   */
  readonly client: Redis
  /** Prepended to every key this store writes (`options.keyPrefix`). */
  readonly keyPrefix: string
  private closed = false

  constructor(options: RedisStoreOptions) {
    const url = redisUrl(options.url)
    const timeoutMs = integer('options.store.timeoutMs', options.timeoutMs, 100)
    const maxReconnectDelayMs = integer('options.store.maxReconnectDelayMs', options.maxReconnectDelayMs, 1000)
    this.keyPrefix = keyPrefix(options.keyPrefix)
    this.client = new Redis(url, {
      lazyConnect: true,
      commandTimeout: timeoutMs,
      socketTimeout: Math.max(1000, 10 * timeoutMs),
      connectTimeout: integer('options.store.connectTimeoutMs', options.connectTimeoutMs, 1000),
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      // Commands caught by a connection loss are failed after one reconnection attempt, not twenty.
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt) => Math.min(attempt * 50, maxReconnectDelayMs),
    })
    // Without a listener, ioredis prints every connection error to the console;
    // the failures that matter reach the callers as StoreUnavailableError.
    this.client.on('error', () => {})
  }

  /**
   * Starts connecting and resolves once the first attempt has settled: `true`
   * when Redis answered, `false` when it did not (the client keeps trying in
   * the background, and the store works as soon as Redis answers). Never
   * rejects and logs nothing: the caller logs one line.
   */
  connect(): Promise<boolean> {
    const client = this.client
    if (this.closed || client.status === 'end') return Promise.resolve(false)
    if (client.status === 'ready') return Promise.resolve(true)
    return new Promise((resolve) => {
      const settle = (ready: boolean) => {
        client.off('ready', onReady)
        client.off('close', onClose)
        resolve(ready)
      }
      const onReady = () => settle(true)
      const onClose = () => settle(false)
      client.on('ready', onReady)
      client.on('close', onClose)
      // A lazy client in 'wait' starts here; one already connecting or
      // reconnecting is simply waited on.
      if (client.status === 'wait') client.connect().catch(() => {})
    })
  }

  async get(key: string): Promise<Buffer | undefined> {
    checkKey(key)
    const value = await this.command('get', () => this.client.getBuffer(this.keyPrefix + key))
    return value ?? undefined
  }

  async set(key: string, value: Buffer, ttlMs: number): Promise<void> {
    checkKey(key)
    checkValue(value)
    checkTtl(ttlMs)
    await this.command('set', () => this.client.set(this.keyPrefix + key, value, 'PX', ttlMs))
  }

  async setIfAbsent(key: string, value: Buffer, ttlMs: number): Promise<boolean> {
    checkKey(key)
    checkValue(value)
    checkTtl(ttlMs)
    const reply = await this.command('setIfAbsent', () =>
      this.client.set(this.keyPrefix + key, value, 'PX', ttlMs, 'NX'),
    )
    return reply === 'OK'
  }

  async delete(key: string): Promise<void> {
    checkKey(key)
    await this.command('delete', () => this.client.del(this.keyPrefix + key))
  }

  async increment(key: string, ttlMs: number): Promise<number> {
    checkKey(key)
    checkTtl(ttlMs)
    const reply = await this.command('increment', () => this.client.eval(INCREMENT, 1, this.keyPrefix + key, ttlMs))
    if (typeof reply !== 'number') {
      throw new StoreUnavailableError(`redis store increment failed: unexpected reply of type ${typeof reply}`)
    }
    return reply
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.client.status === 'end') return
    if (this.client.status !== 'ready') {
      // Nothing to wait for: stop connecting and reconnecting.
      this.client.disconnect()
      return
    }
    try {
      // Waits for the replies of commands already sent, within the command deadline.
      await this.client.quit()
    } catch {
      // No reply in time: drop the connection, and stop reconnecting.
      this.client.disconnect()
    }
  }

  /** Runs one command, turning any failure into `StoreUnavailableError`. */
  private async command<T>(name: string, send: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError(`redis store ${name} failed: the store is closed`)
    try {
      return await send()
    } catch (error) {
      // ioredis and Redis messages name the failure ("Command timed out",
      // "Connection is closed.", "ERR value is not an integer…"), never an argument.
      const reason = error instanceof Error ? error.message : String(error)
      throw new StoreUnavailableError(`redis store ${name} failed: ${reason.slice(0, 200)}`, { cause: error })
    }
  }
}

/** A `redis:` or `rediss:` URL; refused with the password masked. */
function redisUrl(value: string): string {
  const path = 'options.store.url'
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new TypeError(`${path} must be a redis:// or rediss:// URL, got '${withoutUserInfo(String(value))}'`)
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new TypeError(`${path} must be a redis:// or rediss:// URL, got '${withoutUserInfo(value)}'`)
  }
  return value
}

/** Printable ASCII without spaces, at most 64 characters (may be empty). */
function keyPrefix(value: string | undefined): string {
  const prefix = value ?? 'eta-embeds:'
  if (typeof prefix !== 'string' || !/^[\x21-\x7e]{0,64}$/.test(prefix)) {
    throw new TypeError(
      'options.store.keyPrefix must be at most 64 printable ASCII characters without spaces, ' +
        `got ${typeof prefix === 'string' ? `'${prefix}'` : typeof prefix}`,
    )
  }
  return prefix
}
