/**
 * The inputs of the template benchmarks (`bench/templates.ts`, and
 * `bench/compare.ts`, which runs them against another checkout): a generated
 * 1 000-line page, the demo's templates, vendors that answer at once.
 */
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { MockAgent } from 'undici'
import { parse } from '../plugin/compiler/parse.ts'
import { TEST_VENDORS } from '../plugin/runtime/test-helpers.ts'

const TEMPLATES_DIR = fileURLToPath(new URL('../templates/', import.meta.url))

/** 25 lines of a typical page: static HTML, escaped and raw interpolations, a loop and a conditional. */
function sectionLines(n: number): string[] {
  const s = `it.sections[${n % 8}]`
  return [
    `<section class="card" id="section-${n}">`,
    `  <header><h2><%= ${s}.title %></h2><span class="count"><%= ${s}.items.length %> items</span></header>`,
    `  <% if (${s}.items.length) { %>`,
    '  <ul class="items">',
    `  <% for (const item of ${s}.items) { %>`,
    "    <li class=\"<%= item.done ? 'done' : 'todo' %>\">",
    '      <a href="/items/<%= item.id %>"><%= item.name %></a>',
    '      <small><%= item.updated %></small>',
    '    </li>',
    '  <% } %>',
    '  </ul>',
    '  <% } else { %>',
    '  <p class="empty">Nothing here yet.</p>',
    '  <% } %>',
    '  <p>Static copy stands for most of a real page: headings, paragraphs, forms, footers.</p>',
    '  <form method="post" action="/items">',
    '    <label>Name <input name="name" required></label>',
    '    <button type="submit">Add</button>',
    '  </form>',
    `  <%~ ${s}.note %>`,
    '  <footer>',
    '    <a href="/help">Help</a> · <a href="/privacy">Privacy</a>',
    '  </footer>',
    '</section>',
    '',
  ]
}

/** `lines` lines of page with `directives` directives spread evenly (the last one is the chatbot). */
export function generatedTemplate(lines: number, directives: number): string {
  const out = ["<% layout('layout', { title: 'Generated' }) %>"]
  for (let n = 0; out.length < lines; n++) out.push(...sectionLines(n))
  out.length = lines
  const every = Math.floor(lines / directives)
  for (let d = 0; d < directives; d++) {
    out[(d + 1) * every - 1] =
      d === directives - 1
        ? '<<caramelo fallback="partials/chat-unavailable">>'
        : d % 2
          ? `  <<widget type="channel" id={it.widgetIds[${d % 4}]} color="dark">>`
          : `  <<widget id="w${d}" title="Widget ${d}" height="260" fallback="partials/widget-unavailable">>`
  }
  return out.join('\n')
}

/** The same text with every directive taken out: what Eta alone is given. */
export function withoutDirectives(source: string, file: string): string {
  return parse(source, file)
    .map((s) => (s.kind === 'directive' ? '' : s.text))
    .join('')
}

export async function demoSources(): Promise<Record<string, string>> {
  const files = (await readdir(TEMPLATES_DIR, { recursive: true })).filter((f) => f.endsWith('.eta'))
  const entries = await Promise.all(
    files.map(async (f) => [f.replace(/\.eta$/, ''), await readFile(path.join(TEMPLATES_DIR, f), 'utf8')] as const),
  )
  return Object.fromEntries(entries)
}

/** Vendors that answer at once, as often as asked: the time measured is ours, not theirs. */
export function mockVendors(): MockAgent {
  const agent = new MockAgent()
  agent.disableNetConnect()
  const widgets = agent.get(TEST_VENDORS.returning.baseUrl)
  widgets
    .intercept({ path: `/widget/${TEST_VENDORS.returning.communityId}/signin`, method: 'POST' })
    .reply(200, { token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl' })
    .persist()
  widgets
    .intercept({ path: `/store/${TEST_VENDORS.returning.widgetId}?color=light`, method: 'GET' })
    .reply(200, '<html><head></head><body><script>init({ token: "" })</script></body></html>', {
      headers: { 'content-type': 'text/html' },
    })
    .persist()
  agent
    .get(TEST_VENDORS.returningSdk.apiUrl)
    .intercept({ path: '/v2/api/widget-access-keys/token', method: 'POST' })
    .reply(200, { data: { embedToken: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.ZW1iZWQ', expiresIn: 900 } })
    .persist()
  agent
    .get(TEST_VENDORS.caramelo.apiUrl)
    .intercept({ path: `/api/chatbox/project/${TEST_VENDORS.caramelo.projectId}/intranet-auth`, method: 'POST' })
    .reply(200, { real_time_access_token: 'rtat_bench_0123456789' })
    .persist()
  return agent
}
