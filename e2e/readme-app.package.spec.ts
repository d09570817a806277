/**
 * Issue 15: the README's "Add it to your app", followed as written by a newcomer on a fresh machine. Its
 * blocks are read out of README.md (see readme-recipe.ts) and done in order, in a folder outside the
 * repo that holds only the repo's tracked files: `npm ci` and `npm pack` in the checkout, then the app
 * made beside it from the README's files alone — not from examples/minimal-app, which could drift.
 *
 * In development (`npm run dev`): log in with Chromium, see every widget signed in, find every socket
 * the server's processes listen on bound to 127.0.0.1, edit the template and watch the page reload,
 * make a mistake and see it in Vite's overlay, fix it, and stop the server with Ctrl-C. In production
 * (`npm run build`, `npm start`): log in and see every widget signed in.
 *
 * Rewritten, each by a rule that must match: npm prefers its local cache (the test reaches nothing
 * beyond loopback). The servers get PORT=0, so they listen on a free port and print which.
 */
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, test, type Page } from '@playwright/test'
import { expectEmbeds } from './package-helpers.ts'
import {
  changeDirectory,
  freshCheckout,
  parseLine,
  readmeSteps,
  rewriter,
  runLine,
  startTerminal,
  type Step,
  type Terminal,
} from './readme-recipe.ts'
import { isLoopback } from './sockets.ts'
import { hmrConnection } from './hmr.ts'
import { editFile } from './stack.ts'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const SECTION = '## Add it to your app'
const READY = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/
/** Vite's own HMR port, which a dev server in middleware mode opens on every interface unless told otherwise. */
const VITE_HMR_PORT = 24678

/** What a test must not do, rewritten; every rule must apply somewhere, or the README changed under it. */
const REWRITES = [
  ['npm ci', 'npm ci --prefer-offline --no-audit --no-fund'],
  ['npm install ', 'npm install --prefer-offline --no-audit --no-fund '],
] as const

let tmp: string
const terminals: Terminal[] = []

test.beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'readme-app-'))
})

test.afterAll(async () => {
  await Promise.all(terminals.map((terminal) => terminal.kill()))
  if (tmp) await rm(tmp, { recursive: true, force: true })
})

test('the README’s "Add it to your app", typed as written: the app works in development and in production', async ({
  page,
}) => {
  // npm ci and npm pack (which builds) in a fresh checkout, an install, a build: minutes on a busy machine.
  test.setTimeout(20 * 60_000)
  const steps: Step[] = await readmeSteps(path.join(root, 'README.md'), SECTION)
  let cwd = path.join(tmp, 'vite-plugin-eta-embeds')
  await freshCheckout(root, cwd)
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: process.env['HOME'], PORT: '0' }
  const { rewrite, unused } = rewriter(REWRITES)
  const started: string[] = []

  for (const step of steps) {
    if (step.kind === 'file') {
      await mkdir(path.dirname(path.join(cwd, step.name)), { recursive: true })
      await writeFile(path.join(cwd, step.name), step.content)
      continue
    }
    for (const line of step.lines) {
      const { command, comment } = parseLine(line)
      const moved = changeDirectory(cwd, command)
      if (moved) {
        cwd = moved
        continue
      }
      if (!comment.startsWith('listening on ')) {
        await test.step(command, () => {
          runLine(rewrite(command), cwd, env)
          // `# writes <file>`: the file is there.
          const written = /^writes (\S+)$/.exec(comment)?.[1]
          if (written) expect(existsSync(path.join(cwd, written)), `${command} writes ${written}`).toBe(true)
        })
        continue
      }
      // A server, left running in a terminal of its own until its checks are done.
      started.push(command)
      const terminal = await startTerminal(rewrite(command), cwd, env, READY)
      terminals.push(terminal)
      if (command === 'npm run dev') await test.step('development', () => checkDev(page, terminal, cwd))
      else if (command === 'npm start') await test.step('production', () => checkProd(page, terminal))
      else throw new Error(`the README starts a server the test does not know: ${command}`)
    }
  }
  expect(started).toEqual(['npm run dev', 'npm start'])
  expect(unused(), 'rewrite rules that no longer apply').toEqual([])
  // The app holds only what the README had the reader write and install.
  expect(JSON.parse(readFileSync(path.join(cwd, 'package.json'), 'utf8'))).toMatchObject({ type: 'module' })
})

async function checkDev(page: Page, terminal: Terminal, app: string): Promise<void> {
  const connected = hmrConnection(page)
  await expectEmbeds(page, terminal.url)
  const heading = page.getByRole('heading', { level: 1 })

  // Every socket of the server's processes (npm, the shell, node: the app, Vite, the local stubs) is on loopback.
  await expect.poll(connected).toBe(true)
  const sockets = await terminal.listening()
  const port = Number(new URL(terminal.url).port)
  expect(sockets.map((s) => s.port)).toContain(port)
  expect(sockets.filter((s) => !isLoopback(s))).toEqual([])
  expect(sockets.map((s) => s.port)).not.toContain(VITE_HMR_PORT)

  // An edit: the open page reloads by itself.
  const template = path.join(app, 'templates', 'page.eta')
  editFile(template, '<h1>Hello, <%= it.user.name %>!</h1>', '<h1>Welcome, <%= it.user.name %>!</h1>')
  await expect(heading).toHaveText('Welcome, Ada!')

  // A mistake: Vite's overlay, at the line and column it was made, and the terminal says so too.
  await expect.poll(connected).toBe(true)
  editFile(template, '<<widget title="Rewards"', '<<widget colour="red" title="Rewards"')
  const line =
    readFileSync(template, 'utf8')
      .split('\n')
      .findIndex((text) => text.includes('colour="red"')) + 1
  const overlay = page.locator('vite-error-overlay')
  await expect(overlay).toContainText("unknown attribute 'colour' on <<widget>>")
  await expect(overlay).toContainText(`templates/page.eta:${line}:14`)
  await expect.poll(() => terminal.lines.some((text) => text.includes("unknown attribute 'colour'"))).toBe(true)

  // Fixed: the page comes back by itself.
  await expect.poll(connected).toBe(true)
  editFile(template, '<<widget colour="red" title="Rewards"', '<<widget title="Rewards"')
  await expect(heading).toHaveText('Welcome, Ada!')
  await expect(overlay).toHaveCount(0)
  // Back to the README's text, which production then builds.
  editFile(template, '<h1>Welcome, <%= it.user.name %>!</h1>', '<h1>Hello, <%= it.user.name %>!</h1>')
  await expect(heading).toHaveText('Hello, Ada!')

  // Ctrl-C: the server closes what it opened (vendor pools, Vite, its watcher) and exits, on its own.
  expect(await terminal.interrupt(), 'processes still running after Ctrl-C').toEqual([])
}

async function checkProd(page: Page, terminal: Terminal): Promise<void> {
  await page.context().clearCookies()
  await expectEmbeds(page, terminal.url)
  // No Vite in production: no client, no HMR.
  expect(await page.locator('script[src="/@vite/client"]').count()).toBe(0)
  expect(await terminal.interrupt(), 'processes still running after Ctrl-C').toEqual([])
}
