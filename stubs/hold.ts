/**
 * A test hook every stub offers: answers held back until the test lets them
 * go, so a test can look at a page while a vendor is still answering — a
 * signal the test gives, never a timer.
 */
import type { ServerResponse } from 'node:http'

/** Answers a stub keeps back until the test lets them go (test hook): a signal, never a timer. */
export interface Hold {
  /** Requests waiting at the hold right now: arrived, and not answered. */
  readonly waiting: number
  /** Lets every held answer go; later requests are answered as usual. */
  release(): void
}

/** Where a stub's answers wait while a test holds them. */
export class AnswerGate {
  private current: { opened: Promise<void>; open: () => void; waiting: number } | undefined

  /** Holds every later answer that passes this gate until the returned hold is released. */
  hold(): Hold {
    if (this.current) throw new Error('the stub is already held: release the first hold')
    let open = (): void => undefined
    const opened = new Promise<void>((resolve) => (open = resolve))
    const gate = { opened, open, waiting: 0 }
    this.current = gate
    return {
      get waiting() {
        return gate.waiting
      },
      release: () => {
        if (this.current === gate) this.current = undefined
        gate.open()
      },
    }
  }

  /** Waits while held. Resolves `false` when the client has gone away (or the stub closed), like `waitLatency`. */
  async pass(res: ServerResponse): Promise<boolean> {
    const gate = this.current
    if (!gate || res.destroyed) return !res.destroyed
    gate.waiting++
    let onClose = (): void => undefined
    const closed = new Promise<void>((resolve) => (onClose = resolve))
    res.once('close', onClose)
    try {
      await Promise.race([gate.opened, closed])
    } finally {
      res.off('close', onClose)
      gate.waiting--
    }
    return !res.destroyed
  }
}
