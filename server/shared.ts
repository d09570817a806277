/**
 * `REDIS_URL` (issue 11): the one Redis that every instance of the demo
 * shares its state through — the runtime's caches and breakers, the login
 * throttle and session revocations. Redis is never a single point of
 * failure: an instance whose Redis does not answer starts anyway and works
 * from its own memory, saying so once per outage, not once per request.
 */
import type { Logger } from 'pino'
import { withoutUserInfo } from '../plugin/runtime/check.ts'
import { RedisStore, storeHealth, type StoreHealth } from '../plugin/runtime/index.ts'

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
export async function openShared(
  url: string,
  secretKeys: string[],
  logger: Logger,
  timeoutMs?: number,
): Promise<DemoShared> {
  const store = new RedisStore(timeoutMs === undefined ? { url } : { url, timeoutMs })
  // The runtime reports through the same account: one line per outage per process.
  const health = storeHealth(store, logger)
  if (!(await store.connect())) {
    health.startDown()
    logger.warn(`REDIS_URL ${withoutUserInfo(url)} is unreachable: this instance works from memory until it answers`)
  }
  return { store, secretKeys, health }
}
