/**
 * A template that fails while the page renders (issue 13): production logs
 * one line that says what failed and where in the templates — nothing the
 * page's data could have put in a message — and answers a bare 500;
 * development shows the located message and its code frame.
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

  it('in development: the message at the template line, with its frame, in the report and the page', async () => {
    const reports: string[] = []
    const base = await startDemo({ dev: true, reportError: (m) => void reports.push(m), templates: { home: HOME } })
    const res = await homeAsAlice(base)

    expect(res.statusCode).toBe(500)
    const page = await res.body.text()
    expect(reports).toHaveLength(1)
    expect(reports[0]).toContain(`is not valid JSON at ${WHERE}`)
    expect(reports[0]).toContain('> 2 |   <p><%= JSON.parse(it.user.email) %></p>')
    // Vite's overlay gets the place and the frame as its own fields.
    expect(page).toContain(`"loc":{"file":"templates/home.eta","line":2,"column":${WHERE.split(':').at(-1)}}`)
    expect(page).toContain('"frame":"')
  })
})
