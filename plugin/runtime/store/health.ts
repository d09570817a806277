/**
 * One account of a shared store's health per process: the runtime's caches
 * and breakers, and the app's own uses of the same store (a login throttle,
 * session revocations), report through it, so an outage is one log line and
 * its end another, however many parts of the process noticed.
 *
 * A call reports its outcome with the mark it took when it started: only a
 * success that started after the last failure ends an outage, so a reply to a
 * command sent before the store failed cannot announce a recovery.
 */
import type { EmbedsLogger } from '../options.ts'
import type { SharedStore } from './store.ts'

export class StoreHealth {
  private seq = 0
  private downSince: number | undefined

  constructor(private readonly logger: EmbedsLogger) {}

  /** Whether the last outcome was a failure (or the store did not answer at start). */
  get down(): boolean {
    return this.downSince !== undefined
  }

  /** Taken when a store call starts; given back to `answered`. */
  mark(): number {
    return ++this.seq
  }

  /** A store call failed: logged on the first failure of an outage only. */
  failed(error: unknown): void {
    if (this.downSince === undefined) {
      // The store's messages name the operation and the cause, never a stored value.
      const reason = error instanceof Error ? error.message.slice(0, 200) : 'unknown'
      this.logger.warn({ reason }, 'shared store unavailable; this instance works from its own memory')
    }
    this.downSince = ++this.seq
  }

  /** A store call that started at `mark` succeeded: the end of an outage is logged once. */
  answered(mark: number): void {
    if (this.downSince === undefined || mark < this.downSince) return
    this.downSince = undefined
    this.logger.info({}, 'shared store available again')
  }

  /** The store did not answer at start: the caller logs that line, and this is the outage's start. */
  startDown(): void {
    this.downSince = ++this.seq
  }
}

const trackers = new WeakMap<SharedStore, StoreHealth>()

/** The health of `store` in this process; `logger` is used by whoever asks first. */
export function storeHealth(store: SharedStore, logger: EmbedsLogger): StoreHealth {
  let health = trackers.get(store)
  if (!health) trackers.set(store, (health = new StoreHealth(logger)))
  return health
}
