/**
 * Just enough of the Chrome DevTools Protocol to measure a server's memory
 * the way a leak check needs it: after a full garbage collection. Without
 * one, a sample mostly shows how far V8 has let garbage pile up, which moves
 * by tens of MB from one run to the next (see load.test.ts).
 *
 * The server is started with `--inspect=127.0.0.1:0` for this: loopback only,
 * a random port, in the load suite only.
 */
import WebSocket from 'ws'

export interface Inspector {
  /** A full, memory-reducing collection (`HeapProfiler.collectGarbage`). */
  collectGarbage(): Promise<void>
  /** `process.memoryUsage()` inside the server. */
  memoryUsage(): Promise<NodeJS.MemoryUsage>
  close(): Promise<void>
}

interface Reply {
  id?: number
  result?: unknown
  error?: { message?: string }
}

/** The inspector's WebSocket URL from Node's "Debugger listening on ws://…" line, if printed. */
export function inspectorUrl(logs: string[]): string | undefined {
  for (const line of logs) {
    const url = /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/[\w-]+)/.exec(line)?.[1]
    if (url) return url
  }
  return undefined
}

export async function openInspector(url: string): Promise<Inspector> {
  const socket = new WebSocket(url)
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve())
    socket.once('error', reject)
  })
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
  let lastId = 0
  socket.on('message', (data: Buffer) => {
    const reply = JSON.parse(data.toString('utf8')) as Reply
    const waiter = reply.id === undefined ? undefined : pending.get(reply.id)
    if (!waiter || reply.id === undefined) return
    pending.delete(reply.id)
    if (reply.error) waiter.reject(new Error(`inspector: ${reply.error.message ?? 'error'}`))
    else waiter.resolve(reply.result)
  })
  socket.on('close', () => {
    for (const waiter of pending.values()) waiter.reject(new Error('inspector connection closed'))
    pending.clear()
  })
  const call = (method: string, params: object = {}): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = ++lastId
      pending.set(id, { resolve, reject })
      socket.send(JSON.stringify({ id, method, params }))
    })
  return {
    collectGarbage: async () => {
      await call('HeapProfiler.collectGarbage')
    },
    memoryUsage: async () => {
      const result = (await call('Runtime.evaluate', {
        expression: 'JSON.stringify(process.memoryUsage())',
        returnByValue: true,
      })) as { result?: { value?: unknown } }
      if (typeof result.result?.value !== 'string') throw new Error('inspector: no memoryUsage() value')
      return JSON.parse(result.result.value) as NodeJS.MemoryUsage
    },
    close: () =>
      new Promise((resolve) => {
        if (socket.readyState === WebSocket.CLOSED) return resolve()
        socket.once('close', () => resolve())
        socket.close()
      }),
  }
}
