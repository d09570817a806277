import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { sweepOutDir } from './build-scan.ts'
import { needlesFor } from './scan.ts'

const SECRET = 'sweep-secret-4e1f0b'
const needles = needlesFor({ label: 'WIDGET_API_KEY', value: SECRET })

let root = ''
afterEach(() => rm(root, { recursive: true, force: true }))

async function put(file: string, content: string): Promise<void> {
  await mkdir(path.dirname(path.join(root, file)), { recursive: true })
  await writeFile(path.join(root, file), content)
}

describe('sweepOutDir', () => {
  it('deletes leaking files and links, never a .git folder or a link target outside', async () => {
    root = await realpath(await mkdtemp(path.join(os.tmpdir(), 'eta-embeds-sweep-')))
    await put('dist/a/b.txt', `x${SECRET}x`)
    await put('dist/clean.txt', 'nothing')
    await put('dist/.git/objects/ab', SECRET)
    await put('elsewhere/key.txt', SECRET)
    await symlink(path.join(root, 'elsewhere/key.txt'), path.join(root, 'dist/link.txt'))

    const messages = await sweepOutDir(root, path.join(root, 'dist'), path.join(root, 'public'), needles)

    expect(messages.sort()).toEqual([
      'secret WIDGET_API_KEY found in dist/a/b.txt (as raw): the build output must never contain vendor secrets; the file was deleted',
      'secret WIDGET_API_KEY found in dist/link.txt (as raw): the build output must never contain vendor secrets; the file was deleted',
    ])
    expect(existsSync(path.join(root, 'dist/a/b.txt'))).toBe(false)
    expect(existsSync(path.join(root, 'dist/link.txt'))).toBe(false)
    expect(existsSync(path.join(root, 'dist/clean.txt'))).toBe(true)
    expect(existsSync(path.join(root, 'dist/.git/objects/ab'))).toBe(true)
    expect(existsSync(path.join(root, 'elsewhere/key.txt'))).toBe(true)
  })

  it('passes a folder that was never written', async () => {
    root = await realpath(await mkdtemp(path.join(os.tmpdir(), 'eta-embeds-sweep-')))
    expect(await sweepOutDir(root, path.join(root, 'dist'), '', needles)).toEqual([])
  })
})
