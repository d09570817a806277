/** The verified identity a page is rendered for. It comes from the session, never from the request. */
export interface EmbedsUser {
  /** Immutable id (Caramelo's `external_customer_id`). */
  id: string
  email: string
  name: string
  /** Preferred language tag, e.g. `en` or `pt-BR`. */
  lang?: string
}

/** What a vendor flow needs to resolve one directive for one page. */
export interface ResolveContext {
  user: EmbedsUser
  /** The page's CSP nonce, put on every script emitted or passed through. */
  nonce: string
  /** The request's `Accept-Language`, for Caramelo's default `lang`. */
  acceptLanguage: string | undefined
  /** The directive's deadline. */
  signal: AbortSignal
}
