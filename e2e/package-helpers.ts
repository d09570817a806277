/**
 * What `package.spec.ts` does to the example app outside the repo: run commands in it, copy it, make the
 * deliberately leaky variant of it, and run its own Playwright suite (the testing kit's README test) with
 * a machine-readable report.
 */
import { execFile } from 'node:child_process'
import { cp, readdir, readFile, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { expect, type Page } from '@playwright/test'
import { CHROMIUM_ARGS, chromiumExecutable } from './browser.ts'
import { editFile } from './stack.ts'

/** The README app's one user, whom the session names after `POST /login`. */
export const ADA = { id: 'usr_ada_1815', email: 'ada@example.com', name: 'Ada' }

/** Runs a command and resolves with its stdout; rejects with everything it printed when it fails. */
export function run(command: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error)
        reject(new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stdout}${stderr}`, { cause: error }))
      else resolve(stdout)
    })
  })
}

/**
 * A copy of the installed app `from` at `to`: its own files (so its own `dist/` and test results), the
 * same `node_modules` (linked: one install, one copy of each package).
 */
export async function copyApp(from: string, to: string): Promise<void> {
  for (const entry of await readdir(from)) {
    if (['node_modules', 'dist', 'test-results', 'check.ts'].includes(entry)) continue
    await cp(path.join(from, entry), path.join(to, entry), { recursive: true })
  }
  await symlink(path.join(from, 'node_modules'), path.join(to, 'node_modules'), 'dir')
}

/**
 * The three leaks of the done-when of issue 14, each a mistake an app could make that the build's own
 * guard cannot see: a script that sends the SDK widget's token in a URL, a client script the server
 * writes with the chat secret in it (base64, so it does not look like one), and a user whose email the
 * query string can change.
 */
export function makeLeaky(app: string): void {
  const server = path.join(app, 'server.js')
  editFile(
    server,
    'ctx.state.user = ctx.session.uid === USER.id ? USER : undefined',
    'ctx.state.user = ctx.session.uid === USER.id ? { ...USER, ...(ctx.query.email ? { email: ctx.query.email } : {}) } : undefined',
  )
  editFile(
    server,
    'locals: (ctx) => ({ user: ctx.state.user }),',
    'locals: (ctx, nonce) => ({ user: ctx.state.user, nonce }),',
  )
  editFile(
    server,
    "  if (ctx.method === 'GET' && ctx.path === '/') return ctx.render('page')",
    [
      "  if (ctx.path === '/config.js') {",
      "    ctx.type = 'text/javascript'",
      "    const config = Buffer.from(JSON.stringify({ chat: process.env.CARAMELO_SECRET_TOKEN })).toString('base64')",
      '    ctx.body = `window.APP_CONFIG = JSON.parse(atob("${config}"))`',
      '    return',
      '  }',
      "  if (ctx.path === '/track') return void (ctx.status = 204)",
      "  if (ctx.method === 'GET' && ctx.path === '/') return ctx.render('page')",
    ].join('\n'),
  )
  editFile(
    path.join(app, 'templates', 'page.eta'),
    '    <<caramelo>>\n',
    [
      '    <<caramelo>>',
      '    <script nonce="<%= it.nonce %>" src="/config.js"></script>',
      '    <script nonce="<%= it.nonce %>">',
      // Whenever the widget lands: out of order, it arrives after the page's own content.
      '      const track = () => {',
      "        const widget = document.querySelector('[embed-token]')",
      "        if (widget) fetch('/track?widget=' + widget.getAttribute('embed-token'))",
      '        return Boolean(widget)',
      '      }',
      '      if (!track()) {',
      '        new MutationObserver((_, seen) => track() && seen.disconnect()).observe(document, {',
      '          childList: true,',
      '          subtree: true,',
      '        })',
      '      }',
      '    </script>',
      '',
    ].join('\n'),
  )
}

/** One test of a Playwright JSON report. */
export interface ReportedTest {
  title: string
  status: string
  errors: string[]
}

interface JsonSuite {
  suites?: JsonSuite[]
  specs?: { title: string; tests: { status: string; results: { errors: { message?: string }[] }[] }[] }[]
}

function reportedTests(suite: JsonSuite): ReportedTest[] {
  const own = (suite.specs ?? []).flatMap((spec) =>
    spec.tests.map((t) => ({
      title: spec.title,
      status: t.status,
      errors: t.results.flatMap((r) => r.errors.map((e) => e.message ?? '')),
    })),
  )
  return [...own, ...(suite.suites ?? []).flatMap(reportedTests)]
}

/**
 * Runs the app's own `playwright test` (its README config, with the browser this machine has added by a
 * config of the harness's own) and resolves with its exit code, its tests and everything it printed.
 */
export async function runAppSuite(app: string): Promise<{ code: number; tests: ReportedTest[]; output: string }> {
  const launchOptions = { executablePath: chromiumExecutable(), args: CHROMIUM_ARGS }
  await writeFile(
    path.join(app, 'playwright.harness.config.js'),
    [
      "import config from './playwright.config.js'",
      `export default { ...config, use: { ...config.use, launchOptions: ${JSON.stringify(launchOptions)} },`,
      "  reporter: [['list'], ['json', { outputFile: 'report.json' }]] }",
      '',
    ].join('\n'),
  )
  const bin = path.join(app, 'node_modules', '.bin', 'playwright')
  const args = ['test', '--config', 'playwright.harness.config.js']
  // Only what a developer's shell would have: nothing of this runner's own Playwright state.
  const env = { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', NO_COLOR: '1' }
  const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile(bin, args, { cwd: app, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, output: `${stdout}${stderr}` })
    })
  })
  let tests: ReportedTest[] = []
  try {
    tests = reportedTests(JSON.parse(await readFile(path.join(app, 'report.json'), 'utf8')) as JsonSuite)
  } catch {
    // No report: the output says why, and the caller's assertions print it.
  }
  return { code, tests, output }
}

/** Anonymous first (no widget), then `POST /login`, then every widget working for Ada. */
export async function expectEmbeds(page: Page, url: string): Promise<void> {
  await page.goto(url)
  await expect(page.getByRole('button', { name: 'Log in' })).toBeVisible()
  // No widget and no vendor script (in development, Vite's client is the page's one script).
  await expect(page.locator('iframe, rai-currency-widget, script:not([src$="/@vite/client"])')).toHaveCount(0)

  await page.getByRole('button', { name: 'Log in' }).click()
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Hello, ${ADA.name}!`)
  await expect(page.frameLocator('iframe').locator('#widget-status')).toHaveText(`Signed in as ${ADA.email}`)
  // The Widget SDK flow: its element in the page, the status inside its open shadow root.
  await expect(page.locator('rai-currency-widget .rai-widget-status')).toHaveText(`Signed in as ${ADA.email}`)
  await expect(page.locator('#carameloai-chatbot')).toHaveText(`Hi ${ADA.name}! How can I help?`)
}
