/**
 * `REDIS_URL` (issue 11): the one Redis that every instance of the demo
 * shares its state through — the runtime's caches and breakers, the login
 * throttle and session revocations. Redis is never a single point of
 * failure: an instance whose Redis does not answer starts anyway and works
 * from its own memory, saying so once per outage, not once per request.
 */
import type { Logger } from 'pino'
import { withoutUserInfo } from '../plugin/runtime/check.ts'
import { RedisStore } from '../plugin/runtime/index.ts'

/**
 * Says once that the shared store failed and once that it answers again,
 * however many calls fail in between. A call reports its outcome with the
 * mark it took when it started: only a success that started after the last
 * failure ends an outage, so a reply to a command sent before Redis died
 * cannot announce a recovery that did not happen.
 */
export class StoreHealth {
  private seq = 0
  private downSince: number | undefined

  constructor(private readonly logger: Logger) {}

  /** Whether the last call settled in a failure (or Redis did not answer at start). */
  get down(): boolean {
    return this.downSince !== undefined
  }

  /** Taken when a store call starts; given back to `answered`. */
  mark(): number {
    return ++this.seq
  }

  /** A store call failed: logs on the first failure of an outage only. */
  failed(error: unknown): void {
    if (this.downSince === undefined) {
      // The error's message names the operation and the cause (StoreUnavailableError), never a stored value.
      const cause = error instanceof Error ? error.message : String(error)
      this.logger.warn({ cause }, 'shared store (Redis) failed: this instance works from memory until it answers')
    }
    this.downSince = ++this.seq
  }

  /** A store call that started at `mark` succeeded: logs the end of an outage once. */
  answered(mark: number): void {
    if (this.downSince === undefined || mark < this.downSince) return
    this.downSince = undefined
    this.logger.info('shared store (Redis) answers again: this instance shares its state again')
  }

  /** Redis did not answer at start: that is the outage's one line (the caller logs it). */
  startDown(): void {
    this.downSince = ++this.seq
  }
}

/** What the demo shares through Redis, and what it uses to do so. */
export interface DemoShared {
  store: RedisStore
  /** The store's secrets (`storeSecretKeys` of `SESSION_KEYS`): they seal values and name keys. */
  secretKeys: string[]
  health: StoreHealth
}

/**
 * Creates the store for `url` and connects it once. An unreachable Redis is
 * one warning line, and the instance starts anyway: the client keeps
 * reconnecting in the background and the store is used as soon as it answers.
 * Close `store` at shutdown.
 */
export async function openShared(url: string, secretKeys: string[], logger: Logger): Promise<DemoShared> {
  const store = new RedisStore({ url })
  const health = new StoreHealth(logger)
  if (!(await store.connect())) {
    health.startDown()
    logger.warn(`REDIS_URL ${withoutUserInfo(url)} is unreachable: this instance works from memory until it answers`)
  }
  return { store, secretKeys, health }
}
