/**
 * A vendor's circuit breaker shared by every instance (issue 11): a vendor
 * found down by one instance is down for all, and after the cooldown one
 * instance of the fleet probes it, not one per instance.
 *
 * Each instance keeps its local `CircuitBreaker`; this adds two store keys:
 * - `breaker` holds the open-until time, written when a local breaker opens
 *   (or the fleet's probe failed), and kept a while past that time so the
 *   instances still see the circuit as half-open while the probe runs;
 * - `probe` is claimed (`setIfAbsent`, for one directive deadline) by the
 *   instance that probes; the others refuse until the probe's outcome is
 *   written: success deletes `breaker`, failure writes a new open-until.
 *
 * The page never waits for the store while the fleet's circuit is closed or
 * open: `check()` answers from this instance's view of `breaker`, which
 * `refresh()` reads in the background (the runtime calls it every
 * `breakerSyncMs`, and this instance's own writes update it at once). Only a
 * call made once the open-until has passed goes to the store, to claim the
 * probe. So an instance learns that another opened the circuit within one
 * sync interval; in the meantime its own breaker still counts its failures.
 *
 * A store that fails, or says nothing, leaves the local breaker alone to decide.
 * The values are times, not secrets: stored unsealed, checked on read.
 */
import type { BreakerState } from './breaker.ts'
import type { SharedState } from '../store/shared.ts'

/** What the fleet says about a vendor before a call. */
export type SharedVerdict = 'refuse' | 'probe' | 'local'

export interface SharedBreakerOptions {
  vendor: string
  cooldownMs: number
  /** The directive deadline: how long a probe may take before another instance may probe. */
  deadlineMs: number
  now: () => number
}

/** An open-until time as stored: digits only, so a planted value cannot pass for one. */
const TIME = /^\d{1,16}$/

export class SharedBreaker {
  private readonly openKey: string
  private readonly probeKey: string
  /** The fleet's open-until as last read or written here; unset while the fleet's circuit is closed. */
  private until: number | undefined
  /** The open-until whose probe another instance claimed: refused here until the view changes. */
  private probedElsewhere: number | undefined
  /** The last stored value ignored as not a time, so a planted value is logged once, not at every sync. */
  private ignoredValue: string | undefined
  /** Bumped by every read started and every change made here: a read applies only if nothing came after it. */
  private version = 0

  constructor(
    private readonly shared: SharedState,
    private readonly options: SharedBreakerOptions,
  ) {
    this.openKey = shared.key('breaker', options.vendor)
    this.probeKey = shared.key('probe', options.vendor)
  }

  /**
   * Refuse, probe for the fleet, or let the local breaker decide. Answers at
   * once from this instance's view, except after the open-until, when it
   * claims the probe in the store.
   */
  check(): SharedVerdict | Promise<SharedVerdict> {
    const until = this.until
    if (until === undefined) return 'local'
    if (this.options.now() < until) return 'refuse'
    if (this.probedElsewhere === until) return 'refuse'
    return this.claim(until)
  }

  /** Where the fleet's circuit stands in this instance's view: unset when closed. */
  state(): Exclude<BreakerState, 'closed'> | undefined {
    if (this.until === undefined) return undefined
    return this.options.now() < this.until ? 'open' : 'half-open'
  }

  /**
   * Reads the fleet's open-until into this instance's view. A store that
   * fails leaves the view as it was: an open-until passes with time anyway.
   * A read overtaken by a later one, or by a change made here, is dropped.
   */
  async refresh(): Promise<void> {
    const version = ++this.version
    const read = await this.shared.read(this.openKey)
    if (read === undefined || version !== this.version) return
    this.view(this.parse(read.value))
  }

  /** The circuit opened here (or the fleet's probe failed): open for every instance, for a cooldown from now. */
  async open(): Promise<void> {
    const { cooldownMs, deadlineMs } = this.options
    const until = this.options.now() + cooldownMs
    this.view(until)
    // Kept past `until` for the probe's life and a cooldown's margin, so that
    // a probe under way still makes the others refuse.
    await this.shared.write(this.openKey, Buffer.from(String(until), 'latin1'), 2 * cooldownMs + deadlineMs)
    await this.shared.remove(this.probeKey)
  }

  /** The fleet's probe worked: closed for every instance. */
  async closed(): Promise<void> {
    this.view(undefined)
    await this.shared.remove(this.openKey)
    await this.shared.remove(this.probeKey)
  }

  /** The probe said nothing about the vendor (our abort, refused input): another may probe. */
  async released(): Promise<void> {
    await this.shared.remove(this.probeKey)
  }

  private parse(value: Buffer | undefined): number | undefined {
    if (!value) return undefined
    const text = value.toString('latin1')
    if (TIME.test(text)) return Number(text)
    if (text !== this.ignoredValue) this.shared.ignored('breaker', 'it is not a time')
    this.ignoredValue = text
    return undefined
  }

  private view(until: number | undefined): void {
    this.version++
    if (until !== this.until) this.probedElsewhere = undefined
    this.until = until
  }

  /**
   * The open-until has passed: one instance of the fleet takes the probe.
   * The winner reads the open-until once more, because its view may be a
   * sync interval old: another probe may have failed (open again) or
   * worked (closed) since.
   */
  private async claim(until: number): Promise<SharedVerdict> {
    const claimed = await this.shared.claim(this.probeKey, this.options.deadlineMs)
    if (claimed === undefined) return 'local'
    if (!claimed) {
      if (this.until === until) this.probedElsewhere = until
      return 'refuse'
    }
    const read = await this.shared.read(this.openKey)
    if (read === undefined) {
      await this.shared.remove(this.probeKey)
      return 'local'
    }
    const now = this.parse(read.value)
    this.view(now)
    if (now !== undefined && this.options.now() >= now) return 'probe'
    await this.shared.remove(this.probeKey)
    return now === undefined ? 'local' : 'refuse'
  }
}
