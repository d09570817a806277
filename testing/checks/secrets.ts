/**
 * SPEC invariant 1: the planted secrets (vendor keys, `SESSION_KEYS`, …) appear in no browser byte, no
 * request a vendor's stub received from a browser, no log line and no build file — raw or encoded.
 */
import type { Entry } from '../entries.ts'
import type { Leak } from '../leaks.ts'
import { describeFound, scan } from '../scan.ts'

/**
 * Every place a secret of `secrets` (by variable name) is found in `haystack`. `SESSION_KEYS` is a
 * comma-separated list: each of its keys is looked for.
 */
export function findSecretLeaks(secrets: Readonly<Record<string, string>>, haystack: readonly Entry[]): Leak[] {
  const leaks: Leak[] = []
  for (const [name, value] of Object.entries(secrets)) {
    const values = name === 'SESSION_KEYS' ? value.split(',').filter(Boolean) : [value]
    for (const secret of values) {
      for (const line of describeFound(scan(haystack, secret, name))) {
        leaks.push({ check: 'secrets', message: `${name} in ${line}` })
      }
    }
  }
  return leaks
}
