/**
 * A render the app lets fail, in production (issue 15): the runtime answers
 * it with a bare 500 and one located line — the app's own errors stay the
 * app's.
 */
import type { AddressInfo } from 'node:net'
import Koa, { type Middleware } from 'koa'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { compileTemplates, recordingLogger } from '../test-helpers.ts'
import type { EmbedsLogger } from '../options.ts'
import { embeds } from './middleware.ts'

const closers: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0)) await close()
})

async function serve(logger: EmbedsLogger, route: Middleware): Promise<string> {
  const templates = await compileTemplates({ home: '<p>\n<%= JSON.parse(it.email) %>\n</p>' })
  const middleware = embeds({ templates: () => Promise.resolve(templates), vendors: [], logger })
  const app = new Koa()
  app.silent = true
  app.use(middleware)
  app.use(route)
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  closers.push(
    () => middleware.close(),
    () => new Promise((resolve) => server.close(resolve)),
  )
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
}

const render: Middleware = (ctx) => ctx.render('home', { email: 'alice@example.com' })

describe('a failed render in production', () => {
  it('is a bare 500 and one error line with its kind and place, never its message', async () => {
    const errors: string[] = []
    const logger = { ...recordingLogger(), error: (_: object, message: string) => void errors.push(message) }
    const res = await request(await serve(logger, render))
    expect(res.statusCode).toBe(500)
    expect(res.headers['cache-control']).toBe('no-store')
    expect(await res.body.text()).toBe('Internal Server Error')
    expect(errors).toEqual([expect.stringMatching(/^render failed: SyntaxError at templates\/home\.eta:2:\d+$/)])
    expect(JSON.stringify([errors, logger.lines])).not.toContain('alice')
  })

  it('goes to warn when the logger has no error method', async () => {
    const logger = recordingLogger()
    await (await request(await serve(logger, render))).body.dump()
    expect(logger.lines.map((line) => line.message)).toEqual([
      expect.stringMatching(/^render failed: SyntaxError at templates\/home\.eta:2:\d+$/),
    ])
  })

  it('leaves errors of the app’s own to the app', async () => {
    const logger = recordingLogger()
    const res = await request(
      await serve(logger, () => {
        throw Object.assign(new Error('the app’s own'), { status: 418, expose: true })
      }),
    )
    expect(res.statusCode).toBe(418)
    expect(await res.body.text()).toBe('the app’s own')
    expect(logger.lines).toEqual([])
  })
})
