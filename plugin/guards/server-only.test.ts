import { describe, expect, it } from 'vitest'
import { privateFileMessage } from './private-files.ts'
import { displayId, ImportChains, isServerOnlyId, PACKAGE_SERVER_DIRS } from './server-only.ts'

describe('isServerOnlyId', () => {
  const dirs = ['/app/server', ...PACKAGE_SERVER_DIRS]
  it.each([
    ['/app/templates/home.eta', true],
    ['/app/templates/home.eta?raw', true],
    ['/app/server/db.ts', true],
    ['/app/Server/db.ts', true],
    [`${PACKAGE_SERVER_DIRS[0]}/index.ts`, true],
    ['\0virtual:eta-embeds/templates', true],
    ['/app/server-side-rendering.ts', false],
    ['/app/client/server.ts', false],
    ['\0other-virtual', false],
  ])('%s → %s', (id, expected) => {
    expect(isServerOnlyId(id, dirs, ['\0virtual:eta-embeds/templates'])).toBe(expected)
  })
})

describe('ImportChains', () => {
  it('names the first chain back to an entry, and stops at a cycle', () => {
    const chains = new ImportChains()
    chains.record('/app/b.ts', '/app/a.ts')
    chains.record('/app/c.ts?v=1', '/app/b.ts')
    chains.record('/app/c.ts', '/app/other.ts')
    chains.record('/app/a.ts', '/app/c.ts')
    expect(chains.chain('/app/c.ts')).toEqual(['/app/a.ts', '/app/b.ts', '/app/c.ts'])
  })
})

describe('messages', () => {
  it('shows ids relative to the root, packages by name', () => {
    expect(displayId('/app', '/app/client/main.ts?import')).toBe('client/main.ts')
    expect(displayId('/app', '/app/node_modules/vite-plugin-eta-embeds/dist/node/stubs/index.js')).toBe(
      'node_modules/vite-plugin-eta-embeds/dist/node/stubs/index.js',
    )
    expect(displayId('/app', '/store/node_modules/vite-plugin-eta-embeds/dist/node/stubs/index.js')).toBe(
      'vite-plugin-eta-embeds/dist/node/stubs/index.js',
    )
    expect(privateFileMessage('/app', 'server-only module', ['/app/server/db.ts'])).toBe(
      'server-only module server/db.ts loaded as client code (an entry or a direct request); import it from server code only',
    )
  })
})
