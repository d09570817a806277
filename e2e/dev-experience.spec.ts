/**
 * Development mode as a template author lives it: edits show up in the open
 * browser without a restart, and a template mistake shows in Vite's overlay
 * with its file:line:column until it is fixed. Runs against a private copy of
 * the project, since it edits templates.
 *
 * An edit reloads only the pages whose Vite client is connected when the
 * server sends the reload, so every edit here waits for that first, on Vite's
 * own `[vite] connected.` log, the way Vite's playgrounds wait on its logs.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { expect, test, type Page } from '@playwright/test'
import { sdkWidgetStatus } from './fixtures.ts'
import { hmrConnection } from './hmr.ts'
import { copyProject, editFile, startStack, type Stack } from './stack.ts'

let project: Awaited<ReturnType<typeof copyProject>>
let stack: Stack

test.beforeAll(async () => {
  project = await copyProject()
  stack = await startStack('dev', project.dir)
})

test.afterAll(async () => {
  await stack.close()
  await project.remove()
})

const template = (name: string) => path.join(project.dir, 'templates', name)

async function logIn(page: Page): Promise<void> {
  await page.goto(`${stack.url}/login`)
  await page.getByLabel('Email').fill('alice@example.com')
  await page.getByLabel('Password').fill('demo-password')
  await page.getByRole('button', { name: 'Log in' }).click()
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Alice')
}

test('edits to a page, a partial and the layout reload the browser; a bad attribute shows in the overlay until fixed', async ({
  page,
}) => {
  const connected = hmrConnection(page)
  await logIn(page)
  const heading = page.getByRole('heading', { level: 1 })
  await expect(heading).toHaveText('Hello, Alice!')

  await expect.poll(connected).toBe(true)
  editFile(template('home.eta'), 'Hello, <%= it.user.name %>!', 'Welcome back, <%= it.user.name %>!')
  await expect(heading).toHaveText('Welcome back, Alice!')

  await expect.poll(connected).toBe(true)
  editFile(template('partials/help.eta'), '<h2>Need help?</h2>', '<h2>Questions?</h2>')
  await expect(page.getByRole('heading', { name: 'Questions?' })).toBeVisible()

  await expect.poll(connected).toBe(true)
  editFile(template('layout.eta'), '<%~ it.body %>', '<%~ it.body %>\n<p id="layout-version">Layout v2</p>')
  await expect(page.locator('#layout-version')).toHaveText('Layout v2')

  await expect.poll(connected).toBe(true)
  editFile(template('home.eta'), '<<widget title=', '<<widget colour="dark" title=')
  const overlay = page.locator('vite-error-overlay')
  await expect(overlay).toContainText("unknown attribute 'colour' on <<widget>>")
  await expect(overlay).toContainText('templates/home.eta:9:14')

  await expect.poll(connected).toBe(true)
  editFile(template('home.eta'), '<<widget colour="dark" title=', '<<widget color="dark" title=')
  // The heading first: a reload that rendered the error again has no overlay either until its script runs.
  await expect(heading).toHaveText('Welcome back, Alice!')
  await expect(overlay).toHaveCount(0)

  // An attribute the Widget SDK flow does not take is caught at compile time too, where it is written.
  await expect.poll(connected).toBe(true)
  editFile(
    template('home.eta'),
    '<<widget flow="sdk" type="currency"',
    '<<widget flow="sdk" type="currency" loading="lazy"',
  )
  await expect(overlay).toContainText(`unknown attribute 'loading' on <<widget flow="sdk">>`)
  await expect(overlay).toContainText('templates/home.eta:17:41')

  await expect.poll(connected).toBe(true)
  editFile(
    template('home.eta'),
    '<<widget flow="sdk" type="currency" loading="lazy"',
    '<<widget flow="sdk" type="currency"',
  )
  await expect(heading).toHaveText('Welcome back, Alice!')
  await expect(overlay).toHaveCount(0)
  await expect(sdkWidgetStatus(page)).toHaveText('Signed in as alice@example.com')
})

test('a fix saved before the error page has connected to HMR still reloads it', async ({ page, context }) => {
  // The user's second tab: while a page is connected, Vite sends a reload to
  // the connected pages only and keeps none for a page still loading.
  const other = await context.newPage()
  const otherConnected = hmrConnection(other)
  const connected = hmrConnection(page)
  await logIn(page)
  await other.goto(stack.url)
  await expect.poll(connected).toBe(true)
  await expect.poll(otherConnected).toBe(true)

  // Hold the error page's Vite client back, as a loaded machine or a slow network would.
  let release = (): void => {}
  const released = new Promise<void>((resolve) => (release = resolve))
  await page.route('**/@vite/client', async (route) => {
    await released
    await route.continue()
  })
  const clientRequested = page.waitForRequest('**/@vite/client')

  editFile(template('home.eta'), '<<caramelo fallback=', '<<caramelo colour="dark" fallback=')
  await expect(other.locator('vite-error-overlay')).toContainText("unknown attribute 'colour' on <<caramelo>>")
  await expect(page).toHaveTitle('Render error')
  await clientRequested
  await expect.poll(otherConnected).toBe(true)

  editFile(template('home.eta'), '<<caramelo colour="dark" fallback=', '<<caramelo fallback=')
  // The other tab got the fix's reload; the held one cannot have.
  await expect(other.getByRole('heading', { level: 1 })).toContainText('Alice')
  release()
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Alice')
  await expect(page.locator('vite-error-overlay')).toHaveCount(0)
})

/** 1-based line and column of `needle` in `file` as it is now. */
function positionIn(file: string, needle: string): string {
  const text = readFileSync(file, 'utf8')
  const offset = text.indexOf(needle)
  if (offset === -1) throw new Error(`'${needle}' is not in ${file}`)
  const before = text.slice(0, offset).split('\n')
  return `${before.length}:${(before.at(-1)?.length ?? 0) + 1}`
}

test('a template that throws while rendering shows its file, line, column and frame in the overlay and the terminal, in a page, a partial and the layout, until fixed', async ({
  page,
}) => {
  const connected = hmrConnection(page)
  await logIn(page)
  const heading = page.getByRole('heading', { level: 1 })
  const overlay = page.locator('vite-error-overlay')
  const cases = [
    {
      file: 'home.eta',
      search: '<main>\n',
      broken: '<main>\n<p id="city"><%= it.user.profile.city %></p>\n',
      needle: 'city %>',
      message: "Cannot read properties of undefined (reading 'city')",
      via: '',
    },
    {
      file: 'partials/help.eta',
      search: '</section>',
      broken: '  <p><%= it.user.profile.city %></p>\n</section>',
      needle: 'city %>',
      message: "Cannot read properties of undefined (reading 'city')",
      via: `(via templates/home.eta:${positionIn(template('home.eta'), "include('./partials/help')")})`,
    },
    {
      file: 'layout.eta',
      search: '<body>',
      broken: '<body class="<%= it.theme.name %>">',
      needle: 'name %>',
      message: "Cannot read properties of undefined (reading 'name')",
      via: `(via templates/home.eta:${positionIn(template('home.eta'), 'layout(')})`,
    },
  ]
  for (const { file, search, broken, needle, message, via } of cases) {
    await expect.poll(connected).toBe(true)
    editFile(template(file), search, broken)
    const where = `templates/${file}:${positionIn(template(file), needle)}`
    const line = broken.split('\n').find((l) => l.includes(needle)) ?? ''
    await expect(overlay).toContainText(`${message} at ${where}`)
    await expect(overlay).toContainText(via)
    await expect(overlay.locator('.file')).toContainText(where)
    await expect(overlay.locator('.frame')).toContainText(line.trim())
    // The terminal, through Vite's logger: the located message, then the frame.
    await expect.poll(() => stack.logs.join('\n')).toContain(`${message} at ${where}`)
    expect(stack.logs.join('\n')).toContain(`| ${line}`)

    await expect.poll(connected).toBe(true)
    editFile(template(file), broken, search)
    await expect(heading).toContainText('Alice')
    await expect(overlay).toHaveCount(0)
  }
})
