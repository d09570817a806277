import { describe, expect, it } from 'vitest'
import { recordingLogger } from '../test-helpers.ts'
import { storeHealth } from './health.ts'
import { MemoryStore } from './memory.ts'

describe('storeHealth', () => {
  it('is one account per store: two users noticing one outage log it once, and its end once', () => {
    const logger = recordingLogger()
    const store = new MemoryStore()
    const runtime = storeHealth(store, logger)
    const app = storeHealth(store, recordingLogger())
    expect(app).toBe(runtime)

    const before = runtime.mark()
    runtime.failed(new Error('connection refused'))
    app.failed(new Error('command timed out'))
    // A reply to a call sent before the failure ends nothing.
    app.answered(before)
    expect(runtime.down).toBe(true)
    app.answered(app.mark())
    runtime.answered(runtime.mark())

    expect(logger.lines.map((l) => [l.level, l.message, l.fields])).toEqual([
      ['warn', 'shared store unavailable; this instance works from its own memory', { reason: 'connection refused' }],
      ['info', 'shared store available again', {}],
    ])
  })

  it('keeps stores apart', () => {
    const logger = recordingLogger()
    const one = storeHealth(new MemoryStore(), logger)
    const other = storeHealth(new MemoryStore(), logger)
    one.failed(new Error('down'))
    expect(other.down).toBe(false)
  })
})
