import { describe, expect, it } from 'vitest'
import { CompileError } from '../errors.ts'
import { compileTemplate } from './codegen.ts'
import { parse } from './parse.ts'
import { findReferences, resolveTemplateName } from './references.ts'

describe('resolveTemplateName', () => {
  it.each([
    ['nav', 'pages/home', 'nav'],
    ['partials/nav.eta', 'pages/home', 'partials/nav'],
    ['/partials/nav', 'pages/home', 'partials/nav'],
    ['./nav', 'pages/home', 'pages/nav'],
    ['../partials/nav', 'pages/home', 'partials/nav'],
    ['./nav', 'home', 'nav'],
  ])('%s from %s is %s', (written, from, expected) => {
    expect(resolveTemplateName(written, from)).toBe(expected)
  })

  it('refuses names that climb out of the templates folder', () => {
    expect(resolveTemplateName('../secret', 'home')).toBeUndefined()
    expect(resolveTemplateName('./../../x', 'pages/home')).toBeUndefined()
  })
})

describe('findReferences', () => {
  it('finds literal include, includeAsync, layout and fallback names with their offsets', () => {
    const source = `<% layout('shell') %>\n<%~ await includeAsync("./card", { a: 1 }) %>\n<<widget fallback="w">>`
    const refs = findReferences(parse(source, 'pages/home.eta'), 'pages/home')
    expect(refs.map((r) => [r.written, r.name, source.slice(r.offset, r.offset + r.written.length)])).toEqual([
      ['shell', 'shell', 'shell'],
      ['./card', 'pages/card', './card'],
      ['w', 'w', 'w'],
    ])
  })

  it('leaves dynamic names alone', () => {
    expect(findReferences(parse('<%~ include(it.partial) %><%~ include(`x${1}`) %>', 'f.eta'), 'f')).toEqual([])
  })
})

describe('compileTemplate with a template registry', () => {
  const options = {
    name: 'home',
    importPath: (n: string) => `/templates/${n}.eta`,
    exists: (n: string) => ['layout', 'partials/nav'].includes(n),
  }

  it('imports every named template so the module graph knows it', () => {
    const { code } = compileTemplate(
      "<% layout('layout') %><%~ include('./partials/nav') %>",
      'templates/home.eta',
      options,
    )
    expect(code).toContain('import * as __t0 from "/templates/layout.eta";')
    expect(code).toContain('import * as __t1 from "/templates/partials/nav.eta";')
    expect(code).toContain('export const dependencies = {"layout": __t0, "partials/nav": __t1};')
  })

  it('fails with the location of a name that matches no template', () => {
    const compile = () => compileTemplate("<p>\n  <%~ include('partials/nvav') %>", 'templates/home.eta', options)
    expect(compile).toThrow(CompileError)
    expect(compile).toThrow(/no template 'partials\/nvav' for 'partials\/nvav' at templates\/home\.eta:2:16/)
  })

  it('fails on a fallback that leaves the templates folder', () => {
    expect(() => compileTemplate('<<widget fallback="../x">>', 'templates/home.eta', options)).toThrow(
      expect.objectContaining({
        code: 'ERR_TEMPLATE_NOT_FOUND',
        message: expect.stringContaining('leaves the templates'),
      }),
    )
  })
})
