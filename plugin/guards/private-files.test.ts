import { describe, expect, it } from 'vitest'
import { requestedPaths } from './dev-requests.ts'
import { belowRoot, outputFolders } from './dev-server.ts'
import { isEnvPath, privateKind } from './private-files.ts'

describe('isEnvPath', () => {
  it.each([
    ['/app/.env', true],
    ['/app/.envrc', true],
    ['/app/.env~', true],
    ['/app/.env_local', true],
    ['/app/.ENV.Production.Local', true],
    ['/app/sub/.env.x?raw', true],
    ['/app/.envs/key.txt', true],
    ['C:\\app\\.envrc', true],
    ['/app/client/env.ts', false],
    ['/app/environment/.gitkeep', false],
    ['/app/client/main.ts?env=.env', false],
  ])('%s → %s', (file, expected) => {
    expect(isEnvPath(file)).toBe(expected)
  })
})

describe('privateKind', () => {
  const dirs = { server: ['/app/server'], output: ['/app/dist'], virtualIds: ['\0virtual:t'] }
  it.each([
    ['/app/server/db.ts', 'server-only module'],
    ['/app/templates/home.eta', 'server-only module'],
    ['\0virtual:t', 'server-only module'],
    ['/app/.envrc?raw', 'env file'],
    ['/app/dist/client/x.js?import', 'build output'],
    ['/app/DIST/server/templates.js', 'build output'],
    ['/app/distance.ts', undefined],
    ['/app/client/main.ts', undefined],
    ['\0other', undefined],
  ])('%s → %s', (id, expected) => {
    expect(privateKind(id, dirs)).toBe(expected)
  })
})

describe('requestedPaths', () => {
  it('reads a URL every way a server might: decoded until stable, `\\` as `/`, without base, /@fs/ and /@id/', () => {
    expect(requestedPaths('/app/', '/app/@fs/r/client/%252e%252e\\.envrc?raw')).toEqual(
      expect.arrayContaining(['/r/client/%252e%252e/.envrc', '/r/client/%2e%2e/.envrc', '/r/client/../.envrc']),
    )
    expect(requestedPaths('/', '/@id//r/load%2fx.ts')).toEqual(expect.arrayContaining(['//r/load/x.ts']))
  })

  it('stops at a malformed escape, keeping what it read so far', () => {
    expect(requestedPaths('/', '/%E0%A4%A/.envrc')).toEqual(['/%E0%A4%A/.envrc'])
  })
})

describe('output folders', () => {
  it('lists every outDir and output.dir, Vite’s default dist included', () => {
    const folders = outputFolders(
      {
        environments: {
          client: { build: { outDir: 'dist/client' } },
          edge: { build: { rolldownOptions: { output: [{ dir: 'out/a' }, { dir: 'out/b' }] } } },
        },
      },
      'dist/server',
    )
    expect(folders.sort()).toEqual(['dist', 'dist/client', 'dist/server', 'out/a', 'out/b'])
  })

  it('never denies the root or a folder above it', () => {
    expect(belowRoot('/app', ['/app', '/', '/app/dist', '/elsewhere/out'])).toEqual(['/app/dist', '/elsewhere/out'])
  })
})
