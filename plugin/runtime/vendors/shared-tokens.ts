/**
 * A user's reusable vendor token shared by every instance (issue 11): one
 * mint per user per token lifetime for the whole fleet, not one per instance.
 * This is what `TokenCache` calls on a local miss when the runtime has a
 * shared store:
 *
 * 1. the token another instance stored for this user, if it opens, is a JWT
 *    and has enough life left (the same `refreshBeforeExpiryMs` rule);
 * 2. else a short lock (`setIfAbsent`, as long as the directive's deadline):
 *    the instance that takes it mints and stores the token sealed, until its
 *    refresh point; the others poll the store for it, and mint themselves if
 *    it does not come within half their deadline;
 * 3. a store that fails at any step: mint, as without a store.
 *
 * Keys are HMACs of the vendor and the user's opaque key; the token is sealed
 * (AES-GCM, bound to its key name): the store never holds it in clear.
 */
import { fleetOnce, type SharedState } from '../store/shared.ts'
import { isJwtShaped, reusableUntil } from './token-cache.ts'

export interface SharedTokenRequest {
  shared: SharedState
  /** The adapter's name: tokens of two vendors never mix. */
  vendor: string
  /** The user's opaque key (`services.userKey`). */
  userKey: string
  refreshBeforeExpiryMs: number
  /** The directive's deadline, in milliseconds: the lock's life. */
  deadlineMs: number
  signal: AbortSignal
  now: () => number
  /** Mints a token at the vendor (and counts the miss). */
  mint: () => Promise<string>
}

/** The user's token from the store, or minted (and stored) by this instance. */
export function sharedToken(request: SharedTokenRequest): Promise<string> {
  const { shared, vendor, userKey } = request
  const tokenKey = shared.key('token', vendor, userKey)
  return fleetOnce(shared, {
    lockKey: shared.key('mint', vendor, userKey),
    lockMs: request.deadlineMs,
    waitUntil: request.now() + request.deadlineMs / 2,
    now: request.now,
    signal: request.signal,
    lookup: () => storedToken(request, tokenKey),
    make: () => mintAndStore(request, tokenKey),
    alone: request.mint,
  })
}

/**
 * A stored token that opens, is JWT-shaped and is reusable now; anything
 * else is ignored (and logged). `held`: the key held a value, usable or not.
 */
async function storedToken(request: SharedTokenRequest, key: string): Promise<{ value?: string; held: boolean }> {
  const read = await request.shared.readSealed(key, 'token')
  if (!read?.value) return { held: read?.held ?? false }
  const token = read.value.toString('utf8')
  if (!isJwtShaped(token)) {
    request.shared.ignored('token', 'it is not a JWT')
    return { held: true }
  }
  const until = reusableUntil(token, request.refreshBeforeExpiryMs)
  if (until === undefined) {
    request.shared.ignored('token', 'it has no numeric exp')
    return { held: true }
  }
  // Expired, or too close to it: a fresh one is due (not hostile, not logged).
  return request.now() < until ? { value: token, held: true } : { held: true }
}

async function mintAndStore(request: SharedTokenRequest, key: string): Promise<string> {
  const token = await request.mint()
  const until = reusableUntil(token, request.refreshBeforeExpiryMs)
  const ttlMs = until === undefined ? 0 : until - request.now()
  if (ttlMs >= 1) await request.shared.writeSealed(key, Buffer.from(token, 'utf8'), ttlMs)
  return token
}
