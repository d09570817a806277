/**
 * Test support only — not part of the package's API and not imported by any
 * runtime code. Starts a real `redis-server` (Debian's) for the store tests:
 * on a free loopback port, persistence off, ready once it answers PING with
 * PONG and reports its own process id; stopped, killed, paused or restarted
 * on the same port at will. A missing `redis-server` fails the tests with how to
 * install it: they are never skipped.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll } from 'vitest'

export interface RedisServerOptions {
  /** The server binary. @default 'redis-server' (from PATH) */
  binary?: string
}

const READY_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 5_000
const PORT_ATTEMPTS = 5

// Servers still running, killed if the test process exits without stopping them.
const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/** A `redis-server` child process on 127.0.0.1. */
export class RedisServer {
  private child: ChildProcess | undefined

  private constructor(
    /** The loopback port; the same across `restart()`. */
    readonly port: number,
    private readonly binary: string,
    private readonly dir: string,
  ) {}

  /** Starts a server on a free port (another one if that port was taken in between). */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const binary = options.binary ?? 'redis-server'
    const dir = await mkdtemp(path.join(tmpdir(), 'eta-embeds-redis-'))
    for (let attempt = 1; ; attempt++) {
      const server = new RedisServer(await freePort(), binary, dir)
      try {
        await server.spawn()
        return server
      } catch (error) {
        if (!(error instanceof PortTakenError) || attempt === PORT_ATTEMPTS) {
          await rm(dir, { recursive: true, force: true })
          throw error
        }
      }
    }
  }

  /** `redis://127.0.0.1:{port}`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  /** Stops the server (SIGTERM, nothing saved) and waits for it to exit. */
  async stop(): Promise<void> {
    await this.end('SIGTERM')
  }

  /** Kills the server (SIGKILL, as a crash would) and waits for it to exit. */
  async kill(): Promise<void> {
    await this.end('SIGKILL')
  }

  /** Freezes the server (SIGSTOP): connections stay open and nothing is answered, as with a hung host. */
  pause(): void {
    this.signal('SIGSTOP')
  }

  /** Lets a paused server run again (SIGCONT). */
  resume(): void {
    this.signal('SIGCONT')
  }

  /** Stops the server if it runs, then starts an empty one on the same port. */
  async restart(): Promise<void> {
    await this.stop()
    await this.spawn()
  }

  /** Stops the server and removes its working directory. */
  async dispose(): Promise<void> {
    await this.stop()
    await rm(this.dir, { recursive: true, force: true })
  }

  private async spawn(): Promise<void> {
    const child = spawn(
      this.binary,
      [
        ...['--port', String(this.port), '--bind', '127.0.0.1'],
        ...['--save', '', '--appendonly', 'no', '--dir', this.dir],
        ...['--daemonize', 'no', '--logfile', '', '--loglevel', 'warning'],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let output = ''
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
    running.add(child)
    child.once('exit', () => running.delete(child))
    this.child = child
    const exited = exitOf(child).then((status) => {
      if (/address already in use/i.test(output)) throw new PortTakenError(this.port)
      throw new Error(`redis-server exited (${status}) before answering PING on port ${this.port}:\n${output}`)
    })
    const gaveUp = new AbortController()
    try {
      await Promise.race([exited, waitUntilAnswering(this.port, child, gaveUp.signal)])
    } catch (error) {
      gaveUp.abort()
      child.kill('SIGKILL')
      this.child = undefined
      throw error
    } finally {
      exited.catch(() => {})
    }
  }

  private signal(signal: NodeJS.Signals): void {
    if (!this.child?.kill(signal)) throw new Error(`redis-server on port ${this.port} is not running`)
  }

  private async end(signal: NodeJS.Signals): Promise<void> {
    const child = this.child
    this.child = undefined
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill(signal)
    // A paused server acts on SIGTERM only once it runs again.
    child.kill('SIGCONT')
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
    try {
      await exited
    } finally {
      clearTimeout(timer)
    }
  }
}

/**
 * A server for the file's tests: started before them, disposed of after them.
 * Call it at the top of a `describe` or of the file; read the server inside
 * tests. A server that could not start (redis-server missing) fails every
 * test that reads it, with the reason: a failing `beforeAll` would only
 * report them as skipped.
 */
export function useRedisServer(): () => RedisServer {
  let server: RedisServer | undefined
  let failure: Error | undefined
  beforeAll(async () => {
    try {
      server = await RedisServer.start()
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error))
    }
  }, READY_TIMEOUT_MS + 5_000)
  afterAll(async () => {
    await server?.dispose()
  })
  return () => {
    if (failure !== undefined) throw failure
    if (!server) throw new Error('the Redis server is read before its beforeAll ran')
    return server
  }
}

class PortTakenError extends Error {
  constructor(port: number) {
    super(`port ${port} was taken before redis-server could listen on it`)
  }
}

/** How the child ended; an ENOENT spawn error becomes how to install `redis-server`. */
async function exitOf(child: ChildProcess): Promise<string> {
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal]))
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') return reject(error)
      reject(
        new Error(
          `${child.spawnfile} was not found: the store tests run against a real Redis. ` +
            'Install it with `sudo apt-get install -y redis-server` (Debian/Ubuntu), or run .ci/run, which does.',
          { cause: error },
        ),
      )
    })
  })
  return signal ?? `code ${code}`
}

/** A port that was free a moment ago: the OS picks one for a throwaway listener. */
async function freePort(): Promise<number> {
  const server = net.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

/**
 * Resolves once the server on `port` answers PING with PONG and names `child`
 * as its process: a Redis of another test on a port taken in between would
 * answer PONG too. Connection attempts are retried until it listens.
 */
async function waitUntilAnswering(port: number, child: ChildProcess, gaveUp: AbortSignal): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline && !gaveUp.aborted) {
    const pid = await ping(port)
    if (pid === child.pid) return
    if (pid !== undefined) throw new PortTakenError(port)
    // Not listening yet: the next attempt follows the refused one (loopback refuses at once).
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`redis-server did not answer PING on port ${port} within ${READY_TIMEOUT_MS} ms`)
}

/** The process id of the Redis answering PONG on `port`, or `undefined` when none answers. */
async function ping(port: number): Promise<number | undefined> {
  const socket = net.connect(port, '127.0.0.1')
  socket.setTimeout(1000)
  let reply = ''
  socket.on('data', (chunk: Buffer) => {
    reply += chunk.toString()
    if (reply.startsWith('+PONG\r\n') && /\r\nprocess_id:\d+\r\n/.test(reply)) socket.end()
  })
  socket.on('timeout', () => socket.destroy())
  socket.once('connect', () => socket.write('PING\r\nINFO server\r\n'))
  await new Promise<void>((resolve) => {
    socket.once('close', () => resolve())
    socket.once('error', () => resolve())
  })
  if (!reply.startsWith('+PONG\r\n')) return undefined
  const pid = /\r\nprocess_id:(\d+)\r\n/.exec(reply)?.[1]
  return pid === undefined ? undefined : Number(pid)
}
