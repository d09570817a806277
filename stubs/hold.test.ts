/**
 * The stubs' hold (test hook): a vendor that is still answering for as long
 * as a test needs, released by the test itself rather than by a timer.
 */
import { request } from 'undici'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { startCarameloStub, startReturningSdkStub, startReturningStub, type Hold } from './index.ts'

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0)) await close()
})

interface Held {
  hold(): Hold
  /** One request that the hold applies to; resolves to its status. */
  ask(signal?: AbortSignal): Promise<number>
}

async function returning(): Promise<Held> {
  const stub = await startReturningStub({ apiKey: 'hold-api-key-0123456789', communityId: 'c1' })
  closers.push(() => stub.close())
  return {
    hold: () => stub.hold(),
    ask: async (signal) => {
      const res = await request(`${stub.url}/store/w1?color=light`, { signal })
      await res.body.dump()
      return res.statusCode
    },
  }
}

async function returningSdk(): Promise<Held> {
  const stub = await startReturningSdkStub({ accessId: 'id-1', accessKey: 'hold-access-key-0123', communityId: 'c1' })
  closers.push(() => stub.close())
  return {
    hold: () => stub.hold(),
    ask: async (signal) => {
      const res = await request(`${stub.apiUrl}/v2/api/widget-access-keys/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ accessId: 'id-1', accessKey: 'hold-access-key-0123', userIdentifiers: {} }),
        signal,
      })
      await res.body.dump()
      return res.statusCode
    },
  }
}

async function caramelo(): Promise<Held> {
  const stub = await startCarameloStub({ secretToken: 'hold-secret-0123456789', projectId: 'p1' })
  closers.push(() => stub.close())
  return {
    hold: () => stub.hold(),
    ask: async (signal) => {
      const res = await request(`${stub.apiUrl}/api/chatbox/project/p1/intranet-auth`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
        signal,
      })
      await res.body.dump()
      return res.statusCode
    },
  }
}

describe.each([
  ['Returning.AI (widget page)', returning],
  ['Returning.AI Widget SDK (token)', returningSdk],
  ['Caramelo (intranet-auth)', caramelo],
])('%s stub: hold()', (_name, start) => {
  it('keeps answers back until released, then answers as usual', async () => {
    const stub = await start()
    const hold = stub.hold()
    let answered: number | undefined
    const first = stub.ask().then((status) => (answered = status))
    const second = stub.ask()

    await vi.waitFor(() => expect(hold.waiting).toBe(2))
    expect(answered).toBeUndefined()
    hold.release()
    const statuses = await Promise.all([first, second])
    expect(statuses[0]).toBe(statuses[1])
    expect(hold.waiting).toBe(0)
    // Released: later requests are not held, and the stub can be held again.
    await expect(stub.ask()).resolves.toBe(statuses[0])
    stub.hold().release()
  })

  it('refuses a second hold while one is on, and lets go of a client that leaves', async () => {
    const stub = await start()
    const hold = stub.hold()
    expect(() => stub.hold()).toThrow('the stub is already held: release the first hold')
    const leaving = new AbortController()
    const asked = stub.ask(leaving.signal)
    await vi.waitFor(() => expect(hold.waiting).toBe(1))
    leaving.abort()
    await expect(asked).rejects.toThrow()
    await vi.waitFor(() => expect(hold.waiting).toBe(0))
    hold.release()
  })
})
