/**
 * A template that fails while the page renders (issue 13): production logs
 * one line that says what failed and where in the templates — nothing the
 * page's data could have put in a message — and answers a bare 500. (In
 * development the runtime shows it in Vite's overlay: koa/vite-dev.test.ts.)
 */
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { closeDemos, cookies, login, recordingLogger, startDemo } from './test-helpers.ts'

afterEach(closeDemos)

const HOME = '<main>\n  <p><%= JSON.parse(it.user.email) %></p>\n</main>\n'
// `JSON.parse('alice@…')` fails with a message that quotes the email.
const WHERE = `templates/home.eta:2:${HOME.split('\n')[1]!.indexOf('parse') + 1}`

async function homeAsAlice(base: string) {
  const res = await login(base, 'alice@example.com', 'demo-password')
  await res.body.dump()
  return request(`${base}/`, { headers: { cookie: cookies(res) } })
}

describe('a render error', () => {
  it('in production: one located log line without the data, and a 500 with no detail', async () => {
    const { logger, lines } = recordingLogger()
    const base = await startDemo({ logger, templates: { home: HOME } })
    const res = await homeAsAlice(base)

    expect(res.statusCode).toBe(500)
    expect(res.headers['cache-control']).toBe('no-store')
    expect(await res.body.text()).toBe('Internal Server Error')
    const errors = lines.filter((line) => (line['level'] as number) >= 50)
    expect(errors.map((line) => line['msg'])).toEqual([`render failed: SyntaxError at ${WHERE}`])
    expect(JSON.stringify(lines)).not.toContain('alice@example.com')
  })
})
