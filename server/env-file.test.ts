/**
 * Where the demo's configuration comes from (README, "Configuration"): the
 * environment, and `.env` in the project root — that one file only, its
 * values never over a variable already set. A `.env` copied from an example
 * may leave values blank: blank means unset, as everywhere in the config.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { listenPort, loadDotEnv } from './config.ts'

// Names no other test or tool uses, removed after each test: `loadDotEnv` writes to `process.env`.
const NAMES = ['EMBEDS_TEST_FROM_FILE', 'EMBEDS_TEST_SET', 'EMBEDS_TEST_EMPTY', 'EMBEDS_TEST_LOCAL', 'EMBEDS_TEST_MODE']
let root: string

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'eta-embeds-dotenv-'))
})

afterEach(async () => {
  for (const name of NAMES) Reflect.deleteProperty(process.env, name)
  await rm(root, { recursive: true, force: true })
})

describe('loadDotEnv', () => {
  it('reads .env in the root; a variable already set wins, even an empty one', async () => {
    process.env['EMBEDS_TEST_SET'] = 'from the environment'
    process.env['EMBEDS_TEST_EMPTY'] = ''
    await writeFile(
      path.join(root, '.env'),
      'EMBEDS_TEST_FROM_FILE=from the file\nEMBEDS_TEST_SET=from the file\nEMBEDS_TEST_EMPTY=from the file\n',
    )

    loadDotEnv(root)

    expect([
      process.env['EMBEDS_TEST_FROM_FILE'],
      process.env['EMBEDS_TEST_SET'],
      process.env['EMBEDS_TEST_EMPTY'],
    ]).toEqual(['from the file', 'from the environment', ''])
  })

  it("reads no other file: not Vite's .env.local, .env.[mode] or .env.[mode].local", async () => {
    await writeFile(path.join(root, '.env.local'), 'EMBEDS_TEST_LOCAL=local\n')
    await writeFile(path.join(root, '.env.development'), 'EMBEDS_TEST_MODE=development\n')
    await writeFile(path.join(root, '.env.production.local'), 'EMBEDS_TEST_MODE=production\n')

    loadDotEnv(root)

    expect([process.env['EMBEDS_TEST_LOCAL'], process.env['EMBEDS_TEST_MODE']]).toEqual([undefined, undefined])
  })

  it('does nothing without a .env', () => {
    expect(() => loadDotEnv(root)).not.toThrow()
    expect(NAMES.map((name) => process.env[name])).toEqual(NAMES.map(() => undefined))
  })
})

describe('PORT', () => {
  it('is 3000 when unset or blank (a `PORT=` line in .env), else the number given', () => {
    expect(listenPort({})).toBe(3000)
    expect(listenPort({ PORT: '' })).toBe(3000)
    expect(listenPort({ PORT: ' ' })).toBe(3000)
    expect(listenPort({ PORT: '8080' })).toBe(8080)
    expect(listenPort({ PORT: '0' })).toBe(0)
  })

  it.each(['http', '-1', '65536', '1.5'])("refuses '%s'", (value) => {
    expect(() => listenPort({ PORT: value })).toThrow(`PORT must be a port number, got '${value}'`)
  })
})
