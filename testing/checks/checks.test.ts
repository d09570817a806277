/**
 * The four checks on recordings made by hand: each accepts exactly the places its invariant allows and
 * reports every other one with the place, the form and a masked excerpt.
 */
import { describe, expect, it } from 'vitest'
import type { TokenShape } from '../../stubs/witness.ts'
import type { Entry } from '../entries.ts'
import type { SessionUser } from '../leaks.ts'
import type { RecordedResponse } from '../recorder.ts'
import type { MintedToken } from '../vendors.ts'
import { findIdentityLeaks } from './identity.ts'
import { checkTokenPage, findTokenPageLeaks } from './pages.ts'
import { findSecretLeaks } from './secrets.ts'
import { findTokenLeaks, type TokenCheck } from './tokens.ts'

const APP = 'http://127.0.0.1:4000'
const ADA: SessionUser = { id: 'usr_ada_1815', email: 'ada@example.com', name: 'Ada Lovelace' }
const BOB: SessionUser = { id: 'usr_bob_1900', email: 'bob@example.com', name: 'Bob Builder' }
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl'
const minted = (vendor = 'returning-sdk', user: MintedToken['user'] = { email: ADA.email }): MintedToken => ({
  vendor,
  token: TOKEN,
  user,
})
const page = (context: string, text: string, path = '/'): Entry => ({
  kind: 'response body',
  where: `GET ${APP}${path} (200) → response body`,
  url: `${APP}${path}`,
  resourceType: 'document',
  context,
  text,
})
const VALIDATE: TokenShape = {
  uses: [{ what: 'the validate body', matches: (e, t) => e.kind === 'request body' && e.text.includes(t) }],
}

function tokenCheck(entries: { ada?: Entry[]; bob?: Entry[] }, more: Partial<TokenCheck> = {}): TokenCheck {
  return {
    tokens: [minted()],
    sessions: [
      { label: 'ada', user: ADA, entries: entries.ada ?? [] },
      { label: 'bob', user: BOB, entries: entries.bob ?? [] },
    ],
    witness: [],
    logs: [],
    shapes: new Map([
      ['returning-sdk', VALIDATE],
      ['returning-proxy', { uses: [], srcdoc: true }],
    ]),
    pages: { origin: APP, paths: ['/'], lazyVendors: new Set(['returning-proxy']) },
    ...more,
  }
}

describe('findTokenLeaks', () => {
  it("accepts a token in its user's page, that page's DOM, and its vendor's own use, even from an unnamed frame", () => {
    const ada = [
      page('ada', `<rai-store-widget embed-token="${TOKEN}">`),
      { kind: 'dom' as const, where: 'DOM of top frame', url: `${APP}/`, context: 'ada', text: TOKEN },
      { kind: 'request body' as const, where: 'validate', url: 'http://v/validate', context: 'ada', text: TOKEN },
    ]
    const witness: Entry[] = [{ kind: 'request body', where: 'stub saw validate', text: `{"t":"${TOKEN}"}` }]
    expect(findTokenLeaks(tokenCheck({ ada }, { witness, requireUse: true }))).toEqual([])
  })

  it('reports a token in a URL, in another user’s browser, in a log line, and one never delivered', () => {
    const ada = [
      page('ada', TOKEN),
      {
        kind: 'request url' as const,
        where: `GET ${APP}/track → URL`,
        url: `${APP}/track`,
        context: 'ada',
        text: `${APP}/track?t=${TOKEN}`,
      },
    ]
    const bob = [page('bob', `"${TOKEN}"`)]
    const logs: Entry[] = [{ kind: 'log', where: 'server log line 3', text: `minted ${TOKEN}` }]
    const messages = findTokenLeaks(tokenCheck({ ada, bob }, { logs })).map((leak) => leak.message)
    expect(messages).toEqual([
      `returning-sdk token #1 (minted for email=ada@example.com) in GET ${APP}/track → URL [raw]: …${APP}/track?t=⟦token⟧…`,
      `returning-sdk token #1 (minted for email=ada@example.com) in GET ${APP}/ (200) → response body [raw]: …"⟦token⟧"…`,
      'returning-sdk token #1 (minted for email=ada@example.com) in server log line 3 [raw]: …minted ⟦token⟧…',
    ])
    const undelivered = findTokenLeaks(tokenCheck({}, { requireUse: true })).map((leak) => leak.message)
    expect(undelivered).toEqual([
      'returning-sdk token #1 (minted for email=ada@example.com) was in no page this test recorded for its user: record every browser context (session())',
      "returning-sdk token #1 (minted for email=ada@example.com) was never seen in its vendor's own use (the validate body)",
    ])
  })

  it('allows srcdoc frames and the lazy route only to the vendors that have them, and only the listed pages', () => {
    const srcdoc: Entry = {
      kind: 'dom',
      where: 'DOM of frame about:srcdoc',
      url: 'about:srcdoc',
      context: 'ada',
      text: TOKEN,
    }
    const lazy = page('ada', TOKEN, '/_embeds/widget')
    const other = page('ada', TOKEN, '/account')
    const proxy = findTokenLeaks(
      tokenCheck({ ada: [page('ada', TOKEN), srcdoc, lazy] }, { tokens: [minted('returning-proxy')] }),
    )
    expect(proxy).toEqual([])
    const sdk = findTokenLeaks(tokenCheck({ ada: [page('ada', TOKEN), srcdoc, lazy, other] }))
    expect(sdk.map((leak) => leak.message.split(' in ')[1]?.split(' [')[0])).toEqual([
      'DOM of frame about:srcdoc',
      `GET ${APP}/_embeds/widget (200) → response body`,
      `GET ${APP}/account (200) → response body`,
    ])
  })
})

describe('findIdentityLeaks', () => {
  it("reports a token minted for someone else than its page's session user, or for no user, and forged values a vendor got", () => {
    const forged: SessionUser = { id: 'usr_forged_5e1f9a0c', email: 'mallory@forged.example', name: 'Mallory Forged' }
    const leaks = findIdentityLeaks({
      tokens: [
        minted('returning-proxy', { email: forged.email }),
        { vendor: 'caramelo', token: 'other-token-0123456789', user: { id: 'usr_nobody_1' } },
      ],
      sessions: [{ label: 'ada', user: ADA, entries: [page('ada', TOKEN)] }],
      vendorRequests: [
        {
          kind: 'request header',
          where: 'returning-proxy stub received POST /signin from the server → header email',
          name: 'email',
          text: forged.email,
        },
      ],
      forged: [forged],
    })
    expect(leaks.map((leak) => leak.message)).toEqual([
      `a returning-proxy token minted for email=mallory@forged.example reached the page of ada, whose session user is email=ada@example.com, id=usr_ada_1815, name=Ada Lovelace: GET ${APP}/ (200) → response body [raw]: …⟦token⟧…`,
      'a caramelo token minted for id=usr_nobody_1, who is the user of no session of this test',
      'the forged email sent with the request reached a vendor: returning-proxy stub received POST /signin from the server → header email [raw]: …⟦forged email⟧…',
    ])
  })
})

describe('findSecretLeaks', () => {
  it('names the variable, the place and the form, and masks the value; each session key is looked for', () => {
    const secret = 'canary-caramelo-secret-token-0a1b2c3d4e5f'
    const config = `window.CONFIG = JSON.parse(atob("${Buffer.from(JSON.stringify({ chat: secret })).toString('base64')}"))`
    const leaks = findSecretLeaks(
      { CARAMELO_SECRET_TOKEN: secret, SESSION_KEYS: 'old-session-key-1,new-session-key-2' },
      [
        { kind: 'response body', where: `GET ${APP}/config.js (200) → response body`, text: config },
        { kind: 'log', where: 'server log line 1', text: 'keys: new-session-key-2' },
      ],
    )
    expect(leaks.map((leak) => leak.message)).toEqual([
      expect.stringMatching(
        /^CARAMELO_SECRET_TOKEN in GET .*\/config\.js \(200\) → response body \[base64 \(offset \d\)\]: ….*CONFIG = JSON\.parse\(atob\("[\w+/]*⟦CARAMELO_SECRET_TOKEN⟧[\w+/=]*"\)\)…$/,
      ),
      'SESSION_KEYS in server log line 1 [raw]: …keys: ⟦SESSION_KEYS⟧…',
    ])
  })
})

describe('token pages', () => {
  const NONCE = 'bm9uY2UtZm9yLXRlc3Rz+/='
  const good = {
    'cache-control': 'no-store',
    vary: 'Accept-Encoding, Cookie',
    'referrer-policy': 'no-referrer',
    'content-security-policy': `script-src 'nonce-${NONCE}' 'strict-dynamic'`,
  }
  const body = `<script nonce="${NONCE}" src="/a.js"></script><iframe srcdoc="&lt;script nonce=&quot;${NONCE}&quot;&gt;x&lt;/script&gt;"></iframe>${TOKEN}`

  it('accepts a page with every header and its nonce on every script, its srcdoc frames’ included', () => {
    expect(checkTokenPage({ where: 'GET /', headers: good, body })).toEqual({ nonce: NONCE, scripts: 2, problems: [] })
  })

  it('reports each missing header, a missing nonce on a script of a srcdoc frame, and a nonce used twice', () => {
    const bad = { ...good, 'cache-control': 'private', vary: 'Accept-Encoding' }
    delete (bad as Record<string, string>)['referrer-policy']
    const frame = body.replace(`&lt;script nonce=&quot;${NONCE}&quot;&gt;`, '&lt;script src=&quot;/w.js?t=1&quot;&gt;')
    expect(checkTokenPage({ where: 'GET /', headers: bad, body: frame }).problems).toEqual([
      'Cache-Control is "private", not "no-store"',
      'Vary is "Accept-Encoding", without Cookie',
      'Referrer-Policy is null, not "no-referrer"',
      '1 of its 2 scripts lack its nonce: <script src="/w.js?…">',
    ])
    const response = (where: string): RecordedResponse => ({
      where,
      url: `${APP}/`,
      status: 200,
      resourceType: 'document',
      headers: good,
      body,
      context: 'ada',
    })
    expect(findTokenPageLeaks([minted()], [response('GET / (1)'), response('GET / (2)')])).toEqual([
      { check: 'token pages', message: 'GET / (2): its CSP nonce was already used by GET / (1)' },
    ])
  })
})
