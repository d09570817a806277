import { Dispatcher, interceptors, MockAgent, request } from 'undici'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { detachOnAbort } from './detach.ts'
import { deferred } from '../test-helpers.ts'

const ORIGIN = 'https://widgets.vendor.test'
const URL_ = `${ORIGIN}/store/w1`

describe('detachOnAbort with deduplicate, on a MockAgent', () => {
  let agent: MockAgent

  beforeEach(() => {
    agent = new MockAgent()
    agent.disableNetConnect()
  })

  afterEach(async () => {
    try {
      agent.assertNoPendingInterceptors()
    } finally {
      await agent.close()
    }
  })

  /** One vendor answer, held until the test releases it. */
  function heldAnswer() {
    const answer = deferred<string>()
    agent
      .get(ORIGIN)
      .intercept({ path: '/store/w1', method: 'GET' })
      .reply(200, () => answer.promise)
    return answer
  }

  async function text(dispatcher: Dispatcher, signal?: AbortSignal): Promise<string> {
    const res = await request(URL_, { dispatcher, signal })
    return res.body.text()
  }

  it("undici's deduplicate alone fails every caller with the first caller's abort reason (why this module exists)", async () => {
    const dispatcher = agent.compose(interceptors.deduplicate())
    const answer = heldAnswer()
    const first = new AbortController()
    const results = Promise.allSettled([text(dispatcher, first.signal), text(dispatcher)])
    first.abort(new DOMException('page failed', 'AbortError'))
    answer.resolve('PAGE')
    const [a, b] = await results
    expect(a).toMatchObject({ status: 'rejected', reason: { message: 'page failed' } })
    expect(b).toMatchObject({ status: 'rejected', reason: { message: 'page failed' } })
  })

  it('fails only the caller that aborted; the callers that joined it get the answer', async () => {
    const dispatcher = agent.compose(interceptors.deduplicate(), detachOnAbort(1024))
    const answer = heldAnswer()
    const first = new AbortController()
    const results = Promise.allSettled([text(dispatcher, first.signal), text(dispatcher), text(dispatcher)])
    first.abort(new DOMException('page failed', 'AbortError'))
    answer.resolve('PAGE')
    const [a, b, c] = await results
    expect(a).toMatchObject({ status: 'rejected', reason: { message: 'page failed' } })
    expect(b).toEqual({ status: 'fulfilled', value: 'PAGE' })
    expect(c).toEqual({ status: 'fulfilled', value: 'PAGE' })
  })

  it('answers an aborting caller at once, without waiting for the vendor', async () => {
    const dispatcher = agent.compose(interceptors.deduplicate(), detachOnAbort(1024))
    const answer = heldAnswer()
    const deadline = new AbortController()
    const pending = text(dispatcher, deadline.signal)
    deadline.abort(new DOMException('deadline', 'TimeoutError'))
    await expect(pending).rejects.toMatchObject({ name: 'TimeoutError' })
    answer.resolve('PAGE')
  })

  it('changes nothing for a caller that aborts after its answer was read', async () => {
    const dispatcher = agent.compose(interceptors.deduplicate(), detachOnAbort(1024))
    agent.get(ORIGIN).intercept({ path: '/store/w1', method: 'GET' }).reply(200, 'PAGE')
    const controller = new AbortController()
    await expect(text(dispatcher, controller.signal)).resolves.toBe('PAGE')
    expect(() => controller.abort(new Error('late'))).not.toThrow()
  })
})

/** A base dispatcher that records what the caller's controller asks of the request, and lets the test answer. */
class HeldVendor extends Dispatcher {
  handler: Dispatcher.DispatchHandler | undefined
  readonly calls: string[] = []
  readonly controller: Dispatcher.DispatchController = {
    aborted: false,
    paused: false,
    reason: null,
    abort: (reason) => void this.calls.push(`abort:${reason.message}`),
    pause: () => void this.calls.push('pause'),
    resume: () => void this.calls.push('resume'),
  }

  override dispatch(_opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    this.handler = handler
    handler.onRequestStart?.(this.controller, {})
    return true
  }
}

/** A caller that records what reaches it and keeps its controller. */
function caller() {
  const seen: string[] = []
  let controller: Dispatcher.DispatchController | undefined
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart: (c) => void (controller = c),
    onResponseStart: (_c, status) => void seen.push(`start:${status}`),
    onResponseData: (_c, chunk) => void seen.push(`data:${chunk.toString()}`),
    onResponseEnd: () => void seen.push('end'),
    onResponseError: (_c, error) => void seen.push(`error:${error.message}`),
  }
  return {
    seen,
    handler,
    get controller() {
      if (!controller) throw new Error('the request never started')
      return controller
    },
  }
}

describe('detachOnAbort, controller by controller', () => {
  function setup() {
    const vendor = new HeldVendor()
    const dispatcher = vendor.compose(detachOnAbort(8))
    const client = caller()
    dispatcher.dispatch({ origin: ORIGIN, path: '/store/w1', method: 'GET' }, client.handler)
    const upstream = vendor.handler
    if (!upstream) throw new Error('not dispatched')
    return { vendor, client, upstream }
  }

  it('passes pause and resume through while the caller stays', () => {
    const { vendor, client } = setup()
    client.controller.pause()
    expect(client.controller.paused).toBe(true)
    client.controller.resume()
    expect(vendor.calls).toEqual(['pause', 'resume'])
  })

  it('answers the abort with its reason once, resumes a request it paused, and forwards nothing after', () => {
    const { vendor, client, upstream } = setup()
    upstream.onResponseStart?.(vendor.controller, 200, {}, 'OK')
    client.controller.pause()
    client.controller.abort(new Error('gone'))
    client.controller.abort(new Error('twice'))
    expect(client.controller.aborted).toBe(true)
    expect(client.controller.reason).toEqual(new Error('gone'))
    upstream.onResponseData?.(vendor.controller, Buffer.from('abc'))
    upstream.onResponseEnd?.(vendor.controller, {})
    expect(client.seen).toEqual(['start:200', 'error:gone'])
    // Paused by the caller, then released for the others: never aborted.
    expect(vendor.calls).toEqual(['pause', 'resume'])
  })

  it('aborts the request once it grows past maxBytes with its caller gone', () => {
    const { vendor, client, upstream } = setup()
    upstream.onResponseStart?.(vendor.controller, 200, {}, 'OK')
    upstream.onResponseData?.(vendor.controller, Buffer.from('12345'))
    client.controller.abort(new Error('gone'))
    upstream.onResponseData?.(vendor.controller, Buffer.from('678'))
    expect(vendor.calls).toEqual([])
    upstream.onResponseData?.(vendor.controller, Buffer.from('9'))
    expect(vendor.calls).toEqual(['abort:gone'])
  })

  it('ignores an abort after the request ended', () => {
    const { vendor, client, upstream } = setup()
    upstream.onResponseStart?.(vendor.controller, 200, {}, 'OK')
    upstream.onResponseEnd?.(vendor.controller, {})
    const onError = vi.spyOn(client.handler, 'onResponseError')
    client.controller.abort(new Error('late'))
    expect(onError).not.toHaveBeenCalled()
    expect(client.seen).toEqual(['start:200', 'end'])
  })
})
