import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { collectSecrets, readEnvSources, SECRET_ENV_NAMES } from './secrets.ts'

describe('SECRET_ENV_NAMES', () => {
  it("are the built-in adapters' secrets, in registry order, and the session keys", () => {
    expect(SECRET_ENV_NAMES).toEqual(['WIDGET_API_KEY', 'RAI_ACCESS_KEY', 'CARAMELO_SECRET_TOKEN', 'SESSION_KEYS'])
  })
})

describe('collectSecrets', () => {
  it('takes each SESSION_KEYS entry, trimmed, and lists values too short to scan', () => {
    const env = {
      WIDGET_API_KEY: 'api-key-0123456',
      RAI_ACCESS_KEY: 'access-key-7890',
      SESSION_KEYS: ' first-key-1234 ,second-key-5678,,tiny',
      OTHER: 'x',
    }
    expect(collectSecrets([env], SECRET_ENV_NAMES, ['extra-value-99', 'short'])).toEqual({
      secrets: [
        { label: 'WIDGET_API_KEY', value: 'api-key-0123456' },
        { label: 'RAI_ACCESS_KEY', value: 'access-key-7890' },
        { label: 'SESSION_KEYS', value: 'first-key-1234' },
        { label: 'SESSION_KEYS', value: 'second-key-5678' },
        { label: 'options.secrets[0]', value: 'extra-value-99' },
      ],
      tooShort: ['SESSION_KEYS', 'options.secrets[1]'],
    })
  })

  it('keeps every distinct value of a name across sources', () => {
    const secrets = collectSecrets(
      [{ CARAMELO_SECRET_TOKEN: 'value-one-123' }, { CARAMELO_SECRET_TOKEN: 'value-two-456' }],
      SECRET_ENV_NAMES,
      [],
    )
    expect(secrets.secrets.map((s) => s.value)).toEqual(['value-one-123', 'value-two-456'])
  })
})

describe('readEnvSources', () => {
  let dir: string | undefined
  afterEach(async () => {
    vi.unstubAllEnvs()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('reads each .env file for the mode, even a value that process.env overrides', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'eta-embeds-env-'))
    await writeFile(path.join(dir, '.env'), 'WIDGET_API_KEY=from-dot-env-123\n')
    await writeFile(path.join(dir, '.env.staging.local'), 'CARAMELO_SECRET_TOKEN=from-staging-local\n')
    vi.stubEnv('WIDGET_API_KEY', 'from-process-env-456')
    const { secrets } = collectSecrets(readEnvSources('staging', dir), SECRET_ENV_NAMES, [])
    expect(secrets).toEqual(
      expect.arrayContaining([
        { label: 'WIDGET_API_KEY', value: 'from-dot-env-123' },
        { label: 'WIDGET_API_KEY', value: 'from-process-env-456' },
        { label: 'CARAMELO_SECRET_TOKEN', value: 'from-staging-local' },
      ]),
    )
  })

  it('reads only process.env when envDir is false', () => {
    expect(readEnvSources('production', false)).toEqual([process.env])
  })
})
