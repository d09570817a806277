/**
 * Which values are secrets (SPEC invariant 1): the vendor keys and the session
 * keys, read from `process.env` and from the `.env` files Vite reads, plus any
 * the app names itself. The build scan and the config checks look for these.
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { parseEnv } from 'node:util'
import { loadEnv } from 'vite'
import { definitionsOf } from '../vendors/registry.ts'

type Env = Record<string, string | undefined>

/**
 * The secret environment names every app has: the built-in vendors' (each
 * adapter declares its own) and the session keys.
 */
export const SECRET_ENV_NAMES: readonly string[] = [
  ...definitionsOf().flatMap((d) => d.secretEnvNames ?? []),
  'SESSION_KEYS',
]

/** Names whose value is a comma-separated list, each entry its own secret (the first signs, all verify). */
const LIST_NAMES = new Set(['SESSION_KEYS'])

/**
 * Shorter values are not scanned for: a 4-character key matches random bytes
 * of a minified bundle or a base64 blob far too often to fail a build on.
 */
export const MIN_SECRET_LENGTH = 8

/** A secret value and where it came from. `label` names the source, never the value. */
export interface Secret {
  label: string
  value: string
}

export interface CollectedSecrets {
  secrets: Secret[]
  /** Labels with a value shorter than {@link MIN_SECRET_LENGTH}, which are not scanned for. */
  tooShort: string[]
}

/**
 * The environments a secret may come from: `process.env`, Vite's merged view
 * (`loadEnv` with no prefix filter, so every name, expanded), and each `.env`
 * file on its own — a value in `.env` that `process.env` overrides is still a
 * secret the build must not contain.
 */
export function readEnvSources(mode: string, envDir: string | false): Env[] {
  const sources: Env[] = [process.env]
  if (envDir === false) return sources
  sources.push(loadEnv(mode, envDir, ''))
  // The files Vite 8 reads, in its order (vite/src/node/env.ts, getEnvFilesForMode).
  for (const name of ['.env', '.env.local', `.env.${mode}`, `.env.${mode}.local`]) {
    const file = path.join(envDir, name)
    if (existsSync(file)) sources.push(parseEnv(readFileSync(file, 'utf8')))
  }
  return sources
}

/** Every distinct secret value under `names` in `sources`, plus `extra` values given directly. */
export function collectSecrets(sources: Env[], names: readonly string[], extra: readonly string[]): CollectedSecrets {
  const secrets: Secret[] = []
  const tooShort = new Set<string>()
  const seen = new Set<string>()
  const add = (label: string, raw: string): void => {
    const value = raw.trim()
    if (!value) return
    if (value.length < MIN_SECRET_LENGTH) {
      tooShort.add(label)
      return
    }
    if (seen.has(`${label}\0${value}`)) return
    seen.add(`${label}\0${value}`)
    secrets.push({ label, value })
  }
  for (const name of names) {
    for (const env of sources) {
      const value = env[name]
      if (value === undefined) continue
      for (const entry of LIST_NAMES.has(name) ? value.split(',') : [value]) add(name, entry)
    }
  }
  extra.forEach((value, i) => add(`options.secrets[${i}]`, value))
  return { secrets, tooShort: [...tooShort] }
}
