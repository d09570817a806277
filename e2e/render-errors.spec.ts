/**
 * Production, a template that fails while the page renders (issue 13): the
 * answer is a bare 500, and the server logs one line that names the template
 * line — the page's, a partial's or the layout's — and the includes that led
 * there, with nothing of the page's data in it. Runs against its own build
 * of a private copy of the project whose templates fail for one visitor each:
 * the layout for an anonymous one (the login page), the help partial for
 * Alice, the home page itself for Bob, with a message that quotes his email.
 */
import { execFileSync } from 'node:child_process'
import { cp, readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, test, type APIRequestContext, type PlaywrightWorkerArgs } from '@playwright/test'
import { copyProject, editFile, startStack, type Stack } from './stack.ts'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

let project: Awaited<ReturnType<typeof copyProject>>
let stack: Stack

const BROKEN = {
  layout: '<% if (!it.user) { %><p><%= it.theme.name %></p><% } %>',
  help: "<% if (it.user?.name === 'Alice') { %><p><%= it.user.profile.city %></p><% } %>",
  home: "<% if (it.user.name === 'Bob') { %><p><%= JSON.parse(it.user.email) %></p><% } %>",
}

test.beforeAll(async () => {
  test.setTimeout(180_000)
  project = await copyProject()
  const template = (name: string) => path.join(project.dir, 'templates', name)
  editFile(template('layout.eta'), '<body>\n', `<body>\n${BROKEN.layout}\n`)
  editFile(template('partials/help.eta'), '</section>', `${BROKEN.help}\n</section>`)
  editFile(template('home.eta'), '<main>\n', `<main>\n${BROKEN.home}\n`)
  // The server as global setup compiled it; the client and the templates built from the copy.
  await cp(path.join(root, 'dist', 'node'), path.join(project.dir, 'dist', 'node'), { recursive: true })
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build'], {
    cwd: project.dir,
    stdio: 'ignore',
  })
  stack = await startStack('prod', project.dir)
})

test.afterAll(async () => {
  await stack?.close()
  await project?.remove()
})

/** `line:column` of `needle` in the copy's template `name`. */
async function at(name: string, needle: string): Promise<string> {
  const text = await readFile(path.join(project.dir, 'templates', name), 'utf8')
  const before = text.slice(0, text.indexOf(needle)).split('\n')
  return `${before.length}:${(before.at(-1)?.length ?? 0) + 1}`
}

/** The pino lines the server writes from now on, parsed. */
function logsFrom(index: number): Record<string, unknown>[] {
  return stack.logs.slice(index).flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>]
    } catch {
      return []
    }
  })
}

/** GETs `url` and returns the response and every log line written for it (up to its request line). */
async function failingGet(api: APIRequestContext, url: string) {
  const from = stack.logs.length
  const response = await api.get(url, { maxRedirects: 0 })
  // The request line comes last: by then the request's other lines are all there.
  await expect.poll(() => logsFrom(from).some((line) => line['msg'] === 'request' && line['path'] === url)).toBe(true)
  return { response, logs: logsFrom(from) }
}

async function loggedIn(playwright: PlaywrightWorkerArgs['playwright'], email: string): Promise<APIRequestContext> {
  const api = await playwright.request.newContext({ baseURL: stack.url })
  const login = await api.post('/login', { form: { email, password: 'demo-password' }, maxRedirects: 0 })
  expect(login.status()).toBe(302)
  return api
}

async function expectBare500(response: Awaited<ReturnType<APIRequestContext['get']>>): Promise<void> {
  expect(response.status()).toBe(500)
  expect(response.headers()['cache-control']).toBe('no-store')
  expect(await response.text()).toBe('Internal Server Error')
}

const errorLines = (logs: Record<string, unknown>[]) =>
  logs.filter((line) => (line['level'] as number) >= 50).map((line) => line['msg'])

test('the layout fails: one line names the layout line and the page that used it', async ({ playwright }) => {
  const api = await playwright.request.newContext({ baseURL: stack.url })
  const { response, logs } = await failingGet(api, '/login')
  await expectBare500(response)
  expect(errorLines(logs)).toEqual([
    `render failed: TypeError at templates/layout.eta:${await at('layout.eta', 'name %>')} (via templates/login.eta:${await at('login.eta', 'layout(')})`,
  ])
  await api.dispose()
})

test('a partial fails: one line names the partial line and the include', async ({ playwright }) => {
  const api = await loggedIn(playwright, 'alice@example.com')
  const { response, logs } = await failingGet(api, '/')
  await expectBare500(response)
  expect(errorLines(logs)).toEqual([
    `render failed: TypeError at templates/partials/help.eta:${await at('partials/help.eta', 'city %>')} (via templates/home.eta:${await at('home.eta', "include('./partials/help')")})`,
  ])
  await api.dispose()
})

test('the page fails with a message that quotes the user’s email: the line names the place, never the email', async ({
  playwright,
}) => {
  const api = await loggedIn(playwright, 'bob@example.com')
  const { response, logs } = await failingGet(api, '/')
  await expectBare500(response)
  expect(errorLines(logs)).toEqual([
    `render failed: SyntaxError at templates/home.eta:${await at('home.eta', 'parse(')}`,
  ])
  expect(stack.logs.join('\n')).not.toContain('bob@example.com')
  expect(await response.text()).not.toContain('bob@example.com')
  await api.dispose()
})
