import { createServer, type Server } from 'node:http'
import { Agent, request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { lifetimeLimit } from './lifetime.ts'

let server: Server | undefined
let agent: Agent | undefined

afterEach(async () => {
  await agent?.destroy()
  server?.closeAllConnections()
  await new Promise((resolve) => server?.close(resolve))
})

/** A vendor that sends its headers, then one byte every 20 ms, forever. */
async function tricklingVendor(): Promise<string> {
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' })
    const timer = setInterval(() => res.write('x'), 20)
    res.on('close', () => clearInterval(timer))
  })
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('no port')
  return `http://127.0.0.1:${address.port}/`
}

describe('lifetimeLimit', () => {
  it('aborts a trickling answer that bodyTimeout never would', async () => {
    const url = await tricklingVendor()
    // bodyTimeout far above the gap between bytes: only the lifetime can end this.
    agent = new Agent({ bodyTimeout: 60_000 })
    const dispatcher = agent.compose(lifetimeLimit(150))
    const res = await request(url, { dispatcher })
    await expect(res.body.text()).rejects.toThrow(/not complete within 150 ms/)
  })

  it('leaves an answer that completes in time alone', async () => {
    server = createServer((_req, res) => res.end('done'))
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
    const address = server.address() as { port: number }
    agent = new Agent()
    const res = await request(`http://127.0.0.1:${address.port}/`, { dispatcher: agent.compose(lifetimeLimit(5_000)) })
    await expect(res.body.text()).resolves.toBe('done')
  })
})
