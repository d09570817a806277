/**
 * What a vendor's stub tells the testing kit (`vite-plugin-eta-embeds/testing`): every token it minted and
 * whom the server said it was for, every request it received, and the token's shape in the browser — where
 * the vendor's own code legitimately carries it. One witness per built-in flow here; an app's own adapter
 * brings its own (see `examples/custom-vendor/acme-stub.ts`).
 */
import type { CarameloStub } from './caramelo.ts'
import type { ReceivedRequest } from './http.ts'
import { VALIDATE_PATH } from './returning-sdk-script.ts'
import type { ReturningSdkStub } from './returning-sdk.ts'
import type { ReturningStub } from './returning.ts'

/** Whom a vendor was told a token is for: only the fields the server sent it. */
export interface TokenHolder {
  /** The user's id (`external_customer_id`, `data-user-id`). */
  id?: string
  /** The user's email. */
  email?: string
  /** The user's display name. */
  name?: string
}

/** One token a stub minted. */
export interface WitnessedToken {
  /** The token as minted. */
  token: string
  /** What the server told the vendor about the user when it asked for this token. */
  user: TokenHolder
}

/**
 * A recorded piece of browser traffic, as the kit's recorder labels it (`kind` is `request header`,
 * `request body`, `websocket sent`, …). The kit's `Entry` is one.
 */
export interface WitnessEntry {
  /** `request url`, `request header`, `request body`, `websocket sent`, … */
  kind: string
  /** The request's or socket's URL. */
  url?: string
  /** Header name (lower case), cookie name or storage key. */
  name?: string
  /** The recorded text. */
  text: string
}

/** One way the vendor's own browser code uses a token: a place the kit accepts it besides its page. */
export interface TokenUse {
  /** For failure messages: `Authorization: Bearer <token> on GET http://…/api/me`. */
  what: string
  /** Whether `entry`, which holds `token`, is this use of it. */
  matches(entry: WitnessEntry, token: string): boolean
}

/** Where a vendor's tokens may be, besides the HTML document rendered for their user. */
export interface TokenShape {
  /** What the vendor's code in the browser does with a token; `[]` when it sends it nowhere we can see. */
  uses: readonly TokenUse[]
  /**
   * The vendor's document is written inline into the page (`<iframe srcdoc>`): the DOM of an `about:srcdoc`
   * frame of the user's page holds the token too.
   */
  srcdoc?: boolean
}

/** What a running stub knows, for the kit's checks. */
export interface StubWitness {
  /** The adapter's name (`returning-sdk`), for messages. */
  vendor: string
  /** The stub's base URL, for messages. */
  url: string
  /** Every token minted so far, in order. */
  minted(): readonly WitnessedToken[]
  /** Every request received so far, from the server and from browsers, in order. */
  received(): readonly ReceivedRequest[]
  /** Where its tokens may be besides their page. */
  token: TokenShape
}

/** A field of a JSON object `text`; `undefined` when `text` is not one. */
export function jsonField(text: string, name: string): unknown {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined
  } catch {
    return undefined
  }
}

/** Only the fields that are set: a holder says nothing about a field the vendor was not sent. */
function holder(fields: TokenHolder): TokenHolder {
  const set: TokenHolder = {}
  for (const key of ['id', 'email', 'name'] as const) {
    const value = fields[key]
    if (typeof value === 'string') set[key] = value
  }
  return set
}

/** The proxy flow: the widget document's script calls `/api/me` with `Authorization: Bearer <token>`. */
export function returningProxyWitness(stub: ReturningStub): StubWitness {
  const me = `${stub.url}/api/me`
  return {
    vendor: 'returning-proxy',
    url: stub.url,
    minted: () => stub.minted.map((m) => ({ token: m.token, user: holder({ email: m.email }) })),
    received: () => stub.received,
    token: {
      srcdoc: true,
      uses: [
        {
          what: `Authorization: Bearer <token> on a request to ${me}`,
          matches: (entry, token) =>
            entry.kind === 'request header' &&
            entry.name === 'authorization' &&
            entry.url === me &&
            entry.text === `Bearer ${token}`,
        },
      ],
    },
  }
}

/** The Widget SDK flow: the SDK posts `{"embedToken": <token>}` to the vendor's validate endpoint. */
export function returningSdkWitness(stub: ReturningSdkStub): StubWitness {
  const validate = `${stub.apiUrl}${VALIDATE_PATH}`
  return {
    vendor: 'returning-sdk',
    url: stub.apiUrl,
    minted: () =>
      stub.minted.map((m) => ({
        token: m.token,
        user: holder({ email: m.identifiers['data-email'], id: m.identifiers['data-user-id'] }),
      })),
    received: () => stub.received,
    token: {
      uses: [
        {
          what: `the body {"embedToken": <token>} of a request to ${validate}`,
          matches: (entry, token) =>
            entry.kind === 'request body' && entry.url === validate && jsonField(entry.text, 'embedToken') === token,
        },
      ],
    },
  }
}

/** Caramelo: the authenticated SDK sends the token in a frame of its chat WebSocket. */
export function carameloWitness(stub: CarameloStub): StubWitness {
  const socket = stub.apiUrl.replace(/^http/, 'ws')
  return {
    vendor: 'caramelo',
    url: stub.apiUrl,
    minted: () =>
      stub.minted.map((m) => ({
        token: m.token,
        user: holder({ id: m.externalCustomerId, email: m.email, name: m.name }),
      })),
    received: () => stub.received,
    token: {
      uses: [
        {
          what: `a frame sent on a WebSocket to ${socket}`,
          matches: (entry) => entry.kind === 'websocket sent' && entry.url?.startsWith(socket) === true,
        },
      ],
    },
  }
}
