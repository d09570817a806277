/**
 * What only the memory store has: its bound, its exact clock, no timers.
 * The behaviour it shares with Redis is in store.test.ts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { MemoryStore } from './memory.ts'

const value = (text: string) => Buffer.from(text)

function setup(maxEntries?: number) {
  const clock = { t: 1_000_000 }
  const store = new MemoryStore({ maxEntries, now: () => clock.t })
  return { store, clock }
}

describe('MemoryStore', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('keeps a value until more than its TTL has passed on the injected clock, as Redis does', async () => {
    const { store, clock } = setup()
    await store.set('k', value('v'), 100)
    clock.t += 100
    await expect(store.get('k')).resolves.toEqual(value('v'))
    clock.t += 1
    await expect(store.get('k')).resolves.toBeUndefined()
  })

  it('counts a fixed window from the first increment', async () => {
    const { store, clock } = setup()
    await expect(store.increment('c', 100)).resolves.toBe(1)
    clock.t += 60
    await expect(store.increment('c', 100)).resolves.toBe(2)
    clock.t += 40
    await expect(store.increment('c', 100)).resolves.toBe(3)
    clock.t += 1
    await expect(store.increment('c', 100)).resolves.toBe(1)
  })

  it('holds at most maxEntries keys, dropping the least recently used (read or written) first', async () => {
    const { store } = setup(3)
    await store.set('a', value('1'), 60_000)
    await store.set('b', value('2'), 60_000)
    await store.set('c', value('3'), 60_000)
    await store.get('a')
    await store.set('d', value('4'), 60_000)
    expect(store.size).toBe(3)
    await expect(store.get('b')).resolves.toBeUndefined()
    await expect(store.get('a')).resolves.toEqual(value('1'))
    await expect(store.get('c')).resolves.toEqual(value('3'))
    await expect(store.get('d')).resolves.toEqual(value('4'))
  })

  it('stays within maxEntries under many distinct keys', async () => {
    const { store } = setup(100)
    for (let i = 0; i < 1000; i++) await store.increment(`counter-${i}`, 60_000)
    expect(store.size).toBe(100)
    await expect(store.get('counter-999')).resolves.toEqual(value('1'))
    await expect(store.get('counter-0')).resolves.toBeUndefined()
  })

  it('returns a copy: changing a buffer it returned changes nothing stored', async () => {
    const { store } = setup()
    await store.set('k', value('kept'), 60_000)
    const read = await store.get('k')
    read?.write('XXXX')
    await expect(store.get('k')).resolves.toEqual(value('kept'))
  })

  it('leaves no timer behind', async () => {
    vi.useFakeTimers()
    const store = new MemoryStore({ maxEntries: 2 })
    await store.set('a', value('1'), 10)
    await store.setIfAbsent('b', value('2'), 10)
    await store.increment('c', 10)
    await store.get('a')
    expect(vi.getTimerCount()).toBe(0)
    await store.close()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('refuses a maxEntries that is not a positive integer, naming the option', () => {
    expect(() => new MemoryStore({ maxEntries: 0 })).toThrow(
      'options.store.maxEntries must be a positive integer, got 0',
    )
  })
})
