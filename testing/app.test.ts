/**
 * Starting the app under test: it gets the kit's environment over its own and nothing of the runner's
 * but PATH and HOME, the ready line gives its URL, and a start that fails says why with all it printed.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startApp, type RunningApp } from './app.ts'

const apps: RunningApp[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()))
})

/** A server that prints its environment's chosen variables, then where it listens. */
const SERVER = `
const server = require('node:http').createServer((req, res) => res.end('ok'))
server.listen(Number(process.env.PORT), process.env.HOST, () => {
  console.log(JSON.stringify({ key: process.env.WIDGET_API_KEY, mine: process.env.MINE, shell: process.env.SHELL_SECRET ?? null }))
  console.log('listening on http://' + process.env.HOST + ':' + server.address().port)
  setInterval(() => {}, 1000)
})`

describe('startApp', () => {
  it('starts the command with the kit’s variables winning over its own, and answers its URL and output', async () => {
    process.env['SHELL_SECRET'] = 'from-the-shell'
    try {
      const app = await startApp(
        { command: [process.execPath, '-e', SERVER], env: { MINE: 'mine', WIDGET_API_KEY: 'a-real-key' } },
        { WIDGET_API_KEY: 'canary-widget-api-key' },
      )
      apps.push(app)
      expect(app.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(await (await fetch(app.url)).text()).toBe('ok')
      expect(JSON.parse(app.logs[0] ?? '')).toEqual({ key: 'canary-widget-api-key', mine: 'mine', shell: null })
    } finally {
      delete process.env['SHELL_SECRET']
    }
  })

  it('takes the URL from the ready pattern’s first group', async () => {
    const app = await startApp({
      command: [process.execPath, '-e', SERVER],
      ready: /^listening on (http:\/\/\S+)$/,
    })
    apps.push(app)
    expect(app.logs.at(-1)).toBe(`listening on ${app.url}`)
  })

  it('rejects with what the app printed when it exits before it is ready, or never gets ready', async () => {
    await expect(
      startApp({ command: [process.execPath, '-e', 'console.log("no config"); process.exit(3)'] }),
    ).rejects.toThrow(/exited with 3 before it was ready:\nno config/)
    await expect(
      startApp({
        command: [process.execPath, '-e', 'console.log("starting"); setInterval(() => {}, 1000)'],
        startTimeoutMs: 500,
      }),
    ).rejects.toThrow(/printed no line matching .* in 500 ms:\nstarting/)
    await expect(startApp({ command: ['/nonexistent/eta-embeds-app'] })).rejects.toThrow(/could not start/)
  })
})
