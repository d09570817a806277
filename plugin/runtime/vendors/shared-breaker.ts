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
 * A store that fails, or says nothing, leaves the local breaker alone to decide.
 * The values are times, not secrets: stored unsealed, checked on read.
 */
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

export class SharedBreaker {
  private readonly openKey: string
  private readonly probeKey: string

  constructor(
    private readonly shared: SharedState,
    private readonly options: SharedBreakerOptions,
  ) {
    this.openKey = shared.key('breaker', options.vendor)
    this.probeKey = shared.key('probe', options.vendor)
  }

  /** One read (and, after the cooldown, one claim): refuse, probe for the fleet, or let the local breaker decide. */
  async check(): Promise<SharedVerdict> {
    const read = await this.shared.read(this.openKey)
    if (!read?.value) return 'local'
    const text = read.value.toString('latin1')
    if (!/^\d{1,16}$/.test(text)) {
      this.shared.ignored('breaker', 'it is not a time')
      return 'local'
    }
    if (this.options.now() < Number(text)) return 'refuse'
    const claimed = await this.shared.claim(this.probeKey, this.options.deadlineMs)
    if (claimed === undefined) return 'local'
    return claimed ? 'probe' : 'refuse'
  }

  /** The circuit opened here (or the fleet's probe failed): open for every instance, for a cooldown from now. */
  async open(): Promise<void> {
    const { cooldownMs, deadlineMs } = this.options
    const until = this.options.now() + cooldownMs
    // Kept past `until` for the probe's life and a cooldown's margin, so that
    // a probe under way still makes the others refuse.
    await this.shared.write(this.openKey, Buffer.from(String(until), 'latin1'), 2 * cooldownMs + deadlineMs)
    await this.shared.remove(this.probeKey)
  }

  /** The fleet's probe worked: closed for every instance. */
  async closed(): Promise<void> {
    await this.shared.remove(this.openKey)
    await this.shared.remove(this.probeKey)
  }

  /** The probe said nothing about the vendor (our abort, refused input): another may probe. */
  async released(): Promise<void> {
    await this.shared.remove(this.probeKey)
  }
}
