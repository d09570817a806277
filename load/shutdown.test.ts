/**
 * Graceful shutdown (issue 6): SIGTERM while a page waits on its vendors
 * (Returning.AI's proxy and Widget SDK flows, Caramelo).
 * The server stops accepting at once, finishes that page in full, and exits 0
 * — also when a vendor it called is still stuck.
 */
import { connect } from 'node:net'
import { Client } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  carameloTokens,
  getPage,
  login,
  sdkTokens,
  startVendors,
  shown,
  widgetTokens,
  type Page,
  type Vendors,
} from './client.ts'
import { startFaultyVendor } from './faulty-vendor.ts'
import { PASSWORD, serverEnv, startServer, type ServerProcess } from './server.ts'

/** Every vendor answers after this long: the page is in flight for at least as long. */
const VENDOR_LATENCY_MS = 1500
/** Well above the latency: this test is about shutdown, not deadlines. */
const DEADLINE_MS = 10_000
/**
 * SIGTERM to exit, at most: the server's own grace for requests in flight
 * (10 s, server/main.ts), plus a margin. Past it the server is killed and the
 * case fails.
 */
const SHUTDOWN_BOUND_MS = 12_000

/** Opens a TCP connection and closes it: `'accepted'`, or the error code (`'ECONNREFUSED'`). */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve('accepted')
    })
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'))
  })
}

describe('SIGTERM with a page in flight', () => {
  let vendors: Vendors
  let server: ServerProcess

  beforeAll(async () => {
    vendors = await startVendors(VENDOR_LATENCY_MS)
    server = await startServer(serverEnv(vendors.urls, { EMBEDS_TIMEOUT_MS: String(DEADLINE_MS) }))
  })

  afterAll(async () => {
    await server?.stop()
    await vendors?.close()
  })

  it('refuses new connections, finishes the page with every vendor, and exits 0', async () => {
    const cookie = await login(server.url, 'alice@example.com', PASSWORD)
    // Its own connection: the login's idle keep-alive socket is closed at shutdown, this one is busy.
    const client = new Client(server.url)
    let done = false
    const page: Promise<Page> = getPage(server.url, cookie, { dispatcher: client }).finally(() => {
      done = true
    })

    // Every vendor call of this page has reached its vendor.
    await expect
      .poll(() => [
        vendors.returning.received.some((r) => r.path.endsWith('/signin')),
        vendors.returningSdk.received.some((r) => r.path.endsWith('/widget-access-keys/token')),
        vendors.caramelo.received.some((r) => r.path.endsWith('/intranet-auth')),
      ])
      .toEqual([true, true, true])
    server.kill('SIGTERM')

    await expect.poll(() => tryConnect(server.port), { timeout: 5000 }).toBe('ECONNREFUSED')
    // Refused while the page is still being rendered: the listener closed, the process did not just exit.
    expect(done).toBe(false)

    const { status, body } = await page
    expect(status).toBe(200)
    expect(body.trimEnd().endsWith('</html>')).toBe(true)
    expect(body).toContain('Hello, Alice!')
    expect(shown(body)).not.toContain('data-fallback=')
    expect(widgetTokens(body)).toHaveLength(1)
    expect(sdkTokens(body)).toHaveLength(1)
    expect(carameloTokens(body)).toHaveLength(1)

    expect(await server.exitWithin(SHUTDOWN_BOUND_MS), `SIGKILL after ${SHUTDOWN_BOUND_MS} ms`).toEqual({
      code: 0,
      signal: null,
      killed: false,
    })
    await client.close()
  })
})

describe.concurrent('SIGTERM after the widget vendor got stuck on a page that already fell back', () => {
  let vendors: Vendors

  beforeAll(async () => {
    vendors = await startVendors()
  })

  afterAll(async () => {
    await vendors?.close()
  })

  // The widget page fetch may go on after its render gave up (it is shared
  // and cached: plugin/runtime/http/detach.ts); these are the two ways it can stay stuck.
  it.for(['hang', 'trickle'] as const)('%s: exits 0', async (mode, { expect, onTestFinished }) => {
    const faulty = await startFaultyVendor(mode)
    onTestFinished(() => faulty.close())
    const stuck = await startServer(
      serverEnv({ ...vendors.urls, returning: faulty.url }, { EMBEDS_TIMEOUT_MS: '1000' }),
    )
    onTestFinished(async () => {
      await stuck.stop()
    })
    const cookie = await login(stuck.url, 'alice@example.com', PASSWORD)
    const { status, body } = await getPage(stuck.url, cookie)
    // The proxy widget fell back; the SDK widget, from its own vendor, did not.
    expect([status, shown(body).split('data-fallback="widget"').length - 1, sdkTokens(body).length]).toEqual([
      200, 1, 1,
    ])
    expect(faulty.received.map((r) => r.method).sort()).toEqual(['GET', 'POST'])

    expect(await stuck.stop(SHUTDOWN_BOUND_MS), `SIGKILL after ${SHUTDOWN_BOUND_MS} ms`).toEqual({
      code: 0,
      signal: null,
      killed: false,
    })
  })
})
