import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { insertIntoHead, viteClientTags, withTagsInHead } from './vite-client.ts'

const TAGS = '<x-tags>'

describe("where Vite's client goes in a page", () => {
  it.each([
    ['<!doctype html><html><head><title>t</title>', '<!doctype html><html><head><x-tags><title>t</title>'],
    ['<HTML><HEAD lang="en">', '<HTML><HEAD lang="en"><x-tags>'],
    ['<header>no head</header>', '<x-tags><header>no head</header>'],
    ['<!DOCTYPE html>\n<p>no head</p>', '<!DOCTYPE html><x-tags>\n<p>no head</p>'],
    ['<p>nothing</p>', '<x-tags><p>nothing</p>'],
  ])('%j → %j', (html, expected) => {
    expect(insertIntoHead(html, TAGS)).toBe(expected)
  })

  it('goes in the first chunk with text, and comes alone for a page with none', async () => {
    const chunks = (...parts: string[]): AsyncIterable<string> => Readable.from(parts)
    const seen: string[] = []
    for await (const chunk of withTagsInHead(chunks('', '<head>', '<body>'), TAGS)) seen.push(chunk)
    expect(seen).toEqual(['', '<head><x-tags>', '<body>'])
    const empty: string[] = []
    for await (const chunk of withTagsInHead(chunks(), TAGS)) empty.push(chunk)
    expect(empty).toEqual([TAGS])
  })

  it('carries the nonce, escaped, and follows the base', () => {
    expect(viteClientTags('a"b', '/app/')).toBe(
      '<meta property="csp-nonce" nonce="a&quot;b"><script type="module" nonce="a&quot;b" src="/app/@vite/client"></script>',
    )
  })
})
