/**
 * The README's recipe for two instances on Redis ("Running several
 * instances", issue 11), done from the README's own text: its shell blocks
 * are read out of README.md and run line by line, in a copy of the repo
 * outside it, the way a newcomer would type them. Each `# <output>` comment
 * that states what a line prints (`# PONG`, `# 200…`, `# 302…`) is checked
 * against what it printed.
 *
 * Only what a test must not do is rewritten, each by a rule in `REWRITES`
 * that must match, so a README that changes fails here instead of drifting:
 * no `sudo apt-get` and no fixed port (the test starts its own redis-server,
 * the package `.ci/run` installs, on a free port, with persistence off; the
 * two instances get free ports), and `npm ci` prefers the local npm cache
 * (a test reaches nothing beyond loopback).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  freshCheckout,
  parseLine,
  readmeSection,
  rewriter,
  runLine,
  startTerminal,
  type Terminal,
} from '../e2e/readme-recipe.ts'
import { RedisServer } from '../plugin/runtime/store/test-helpers.ts'
import { ROOT } from './server.ts'

const SECTION = '## Running several instances'
/**
 * The case's own timeout, over the suite's 2 minutes: it runs `npm ci` and a
 * build in a fresh copy, which took 3½ minutes on a 2-core machine at load 15
 * (1½ at load 11, ½ unloaded). A line that hangs has its own bound (`runLine`'s).
 */
const RECIPE_TIMEOUT_MS = 20 * 60_000

/** The README's shell blocks in `SECTION`, in order, as lines (blank lines dropped). */
async function recipe(): Promise<string[][]> {
  const section = await readmeSection(path.join(ROOT, 'README.md'), SECTION)
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) =>
    (m[1] ?? '').split('\n').filter((line) => line.trim() !== ''),
  )
}

/** A command and the output its comment promises (the comment's first word, when it is one the line prints). */
function parse(line: string): { command: string; expected: string | undefined } {
  const { command, comment } = parseLine(line)
  return { command, expected: /^(PONG|\d{3})\b/.exec(comment)?.[1] }
}

async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

let redis: RedisServer
let dir: string
let app: string
const terminals: Terminal[] = []

beforeAll(async () => {
  redis = await RedisServer.start()
  dir = await mkdtemp(path.join(os.tmpdir(), 'readme-redis-'))
  // What a newcomer has: the repo's files (tracked ones, as they are now), nothing built or installed.
  app = path.join(dir, 'vite-plugin-eta-embeds')
  await freshCheckout(ROOT, app)
})

afterAll(async () => {
  await Promise.all(terminals.map((running) => running.kill()))
  await redis?.dispose()
  if (dir) await rm(dir, { recursive: true, force: true })
})

/** Starts one line as a terminal that keeps running; resolves with the URL the server says it listens on. */
async function terminal(command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  const started = await startTerminal(command, cwd, env, /"url":"(http:\/\/127\.0\.0\.1:\d+)","mode"/)
  terminals.push(started)
  return started.url
}

describe("the README's two instances on Redis, typed as written", { timeout: RECIPE_TIMEOUT_MS }, () => {
  it('a cookie copied before logout is refused by the other instance; the sixth bad login is 429 on either', async () => {
    const blocks = await recipe()
    expect(blocks, `three sh blocks in "${SECTION}"`).toHaveLength(3)
    const [setup = [], servers = [], client = []] = blocks
    const [portA, portB] = [await freePort(), await freePort()]
    /** Every rewrite must apply somewhere: a README that no longer says it must be looked at. */
    const { rewrite, unused } = rewriter([
      // The test's own redis-server, from the package .ci/run installs: never a fixed port.
      ['sudo apt-get install -y redis-server', 'command -v redis-server'],
      ['redis-cli ping', `redis-cli -p ${redis.port} ping`],
      ['redis://127.0.0.1:6379', redis.url],
      // Nothing beyond loopback: the packages come from the npm cache the outer `npm ci` filled.
      ['npm ci', 'npm ci --prefer-offline --no-audit --no-fund'],
      ['PORT=3001 ', `PORT=${portB} `],
      ['http://127.0.0.1:3000/', `http://127.0.0.1:${portA}/`],
      ['http://127.0.0.1:3001/', `http://127.0.0.1:${portB}/`],
    ])
    // Where npm start listens without PORT (the first terminal): the README says 3000, the test picks a free port.
    // REDIS_TIMEOUT_MS: the checks below need Redis to answer, and at the default 100 ms a busy machine sees
    // answers late; each instance then counts and revokes on its own (as the README says), by chance.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'],
      HOME: process.env['HOME'],
      PORT: String(portA),
      REDIS_TIMEOUT_MS: '5000',
    }

    // The setup block, one line at a time in the copy of the repo; `export` lines carry over as they would in a shell.
    for (const line of setup) {
      const { command, expected } = parse(line)
      const exported = /^export (\w+)=/.exec(command)?.[1]
      const out = runLine(exported ? `${rewrite(command)}; printf '%s' "$${exported}"` : rewrite(command), app, env)
      if (exported) env[exported] = out.trim().split('\n').at(-1)
      if (expected) expect(out.trim(), command).toBe(expected)
    }
    expect(env['SESSION_KEYS'], 'the setup block exports SESSION_KEYS').toMatch(/^[\w-]{40,}$/)

    // The two terminals, started at once; each is ready when it prints where it listens.
    expect(servers).toHaveLength(2)
    const urls = await Promise.all(servers.map((line) => terminal(rewrite(parse(line).command), app, env)))
    expect(urls).toEqual([`http://127.0.0.1:${portA}`, `http://127.0.0.1:${portB}`])

    // The third terminal, in a folder of its own (curl writes its cookie jar there).
    const third = path.join(dir, 'third-terminal')
    await mkdir(third)
    const checked: string[] = []
    for (const line of client) {
      const { command, expected } = parse(line)
      const out = runLine(rewrite(command), third, env)
      if (expected) {
        expect(out.trim(), command).toBe(expected)
        checked.push(expected)
      }
    }
    // The README promises a 200 before the logout and a 302 after it.
    expect(checked).toEqual(['200', '302'])
    expect(unused(), 'rewrite rules that no longer apply').toEqual([])

    // "Five wrong passwords for one email spread over both, and the sixth attempt is 429 on either."
    const badLogin = async (url: string): Promise<number> => {
      const res = await request(`${url}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'email=bob%40example.com&password=not-the-password',
      })
      await res.body.dump()
      return res.statusCode
    }
    const statuses: number[] = []
    for (let i = 0; i < 5; i++) statuses.push(await badLogin(urls[i % 2] ?? ''))
    expect(
      statuses.every((s) => s !== 429),
      `five bad logins: ${statuses.join(', ')}`,
    ).toBe(true)
    for (const url of urls) expect(await badLogin(url), url).toBe(429)
  })
})
