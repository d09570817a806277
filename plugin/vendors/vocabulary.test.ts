import { describe, expect, it } from 'vitest'
import type { AnyVendorDefinition } from './define.ts'
import { BUILTIN_VOCABULARY, definitionsOf } from './registry.ts'
import { oneOf } from './rules.ts'
import { Vocabulary } from './vocabulary.ts'

type Definition = ConstructorParameters<typeof Vocabulary>[0][number]

/** The pure part of an adapter, as the vocabulary reads it. */
function adapter(name: string, more: Partial<Definition> = {}): Definition {
  return { name, directive: name, title: name, attributes: { size: oneOf(['s', 'm']) }, ...more }
}

const LAZY: AnyVendorDefinition['lazy'] = {
  document: () => Promise.resolve(''),
  frame: () => '',
}

describe('Vocabulary: adapters that disagree are refused, naming the adapter', () => {
  it('refuses two adapters with one name', () => {
    expect(() => new Vocabulary([adapter('acme'), adapter('acme', { directive: 'other' })])).toThrow(
      new TypeError("two vendor adapters are named 'acme'"),
    )
  })

  it('refuses a built-in name taken again by an app adapter', () => {
    expect(() => new Vocabulary([...definitionsOf(), adapter('caramelo', { directive: 'chat' })])).toThrow(
      "two vendor adapters are named 'caramelo'",
    )
  })

  it.each(['fallback', 'flow', 'loading'])('refuses the reserved attribute name %s', (reserved) => {
    const attributes = { size: oneOf(['s']), [reserved]: oneOf(['x']) }
    expect(() => new Vocabulary([adapter('acme', { attributes })])).toThrow(
      `vendor adapter 'acme': attribute '${reserved}' must match /^[a-z][a-z0-9-]{0,31}$/ and not be one of fallback, flow, loading`,
    )
  })

  it('refuses an attribute name with characters a directive cannot carry', () => {
    expect(() => new Vocabulary([adapter('acme', { attributes: { 'Colour!': oneOf(['x']) } })])).toThrow(
      "vendor adapter 'acme': attribute 'Colour!' must match",
    )
  })

  it.each(['Acme', 'ac me', 'acme!', '1acme', '', 'a'.repeat(33)])('refuses the directive name %j', (directive) => {
    expect(() => new Vocabulary([adapter('acme', { directive })])).toThrow(
      `vendor adapter 'acme': directive '${directive}' must match /^[a-z][a-z0-9-]{0,31}$/`,
    )
  })

  it('refuses two flows of one directive without flow names', () => {
    expect(
      () => new Vocabulary([adapter('acme-a', { directive: 'acme' }), adapter('acme-b', { directive: 'acme' })]),
    ).toThrow("vendor adapter 'acme-a': <<acme>> has several flows, so it needs a 'flow' name")
  })

  it('refuses a second flow without a name beside a named one, naming that adapter', () => {
    expect(
      () =>
        new Vocabulary([adapter('acme-a', { directive: 'acme', flow: 'a' }), adapter('acme-b', { directive: 'acme' })]),
    ).toThrow("vendor adapter 'acme-b': <<acme>> has several flows, so it needs a 'flow' name")
  })

  it('refuses two flows of one directive with the same flow name', () => {
    expect(
      () =>
        new Vocabulary([
          adapter('acme-a', { directive: 'acme', flow: 'x' }),
          adapter('acme-b', { directive: 'acme', flow: 'x' }),
        ]),
    ).toThrow("vendor adapters 'acme-a' and 'acme-b': <<acme>> has two flows named 'x'")
  })

  it('takes one unnamed flow, and an app adapter beside the built-ins', () => {
    const vocabulary = new Vocabulary([...definitionsOf(), adapter('acme')])
    expect(vocabulary.names()).toEqual(['widget', 'caramelo', 'acme'])
    expect(vocabulary.get('acme')?.flows.map((f) => f.name)).toEqual(['acme'])
  })
})

describe('the built-in vocabulary', () => {
  it('has <<widget>> with the proxy flow first, then the SDK flow, and <<caramelo>> once per page', () => {
    expect(BUILTIN_VOCABULARY.names()).toEqual(['widget', 'caramelo'])
    expect(BUILTIN_VOCABULARY.get('widget')?.flows.map((f) => [f.name, f.flow])).toEqual([
      ['returning-proxy', 'proxy'],
      ['returning-sdk', 'sdk'],
    ])
    expect(BUILTIN_VOCABULARY.get('widget')?.onePerPage).toBeUndefined()
    expect(BUILTIN_VOCABULARY.get('caramelo')?.onePerPage).toBe('a page can hold at most one chatbot')
  })

  it("adds the runtime's own attributes: flow for two flows, loading for a lazy one, fallback for all", () => {
    expect(BUILTIN_VOCABULARY.attributeNames('widget')).toEqual([
      'flow',
      'type',
      'id',
      'color',
      'title',
      'height',
      'fallback',
      'loading',
    ])
    expect(BUILTIN_VOCABULARY.attributeNames('caramelo')).toEqual(['project', 'lang', 'fallback'])
    expect(BUILTIN_VOCABULARY.attributeNames('nope')).toEqual([])
  })

  it('gives an app adapter loading only when it offers a lazy document', () => {
    const vocabulary = new Vocabulary([adapter('eager'), adapter('lazy', { lazy: LAZY })])
    expect(vocabulary.attributeNames('eager')).toEqual(['size', 'fallback'])
    expect(vocabulary.attributeNames('lazy')).toEqual(['size', 'fallback', 'loading'])
  })
})

describe('Vocabulary.check', () => {
  const check = BUILTIN_VOCABULARY.check.bind(BUILTIN_VOCABULARY)

  it('without a flow, takes a value any flow takes (the flow is chosen, and checked again, at render time)', () => {
    expect(check('widget', 'type', 'minigames')).toBeUndefined()
    expect(check('widget', 'type', 'currency')).toBeUndefined()
    expect(check('widget', 'loading', 'lazy')).toBeUndefined()
    // Refused by every flow: the reason is a flow's own rule.
    expect(check('widget', 'type', 'admin')).toMatch(/^expected one of store, channel, milestone, social, currency/)
  })

  it("with a flow, holds the value to that flow's rule", () => {
    expect(check('widget', 'type', 'minigames', 'proxy')).toBeUndefined()
    expect(check('widget', 'type', 'minigames', 'sdk')).toBe(
      'expected one of store, channel, milestone, social, currency',
    )
    expect(check('widget', 'type', 'currency', 'sdk')).toBeUndefined()
  })

  it('with a flow, refuses an attribute that flow does not take', () => {
    expect(check('widget', 'loading', 'lazy', 'sdk')).toBe("flow 'sdk' takes type, id, color, title, height, fallback")
    expect(check('widget', 'loading', 'lazy', 'proxy')).toBeUndefined()
    expect(check('widget', 'loading', 'soon', 'proxy')).toBe('expected one of eager, lazy')
  })

  it('checks flow against the flow names', () => {
    expect(check('widget', 'flow', 'sdk')).toBeUndefined()
    expect(check('widget', 'flow', 'proxy', 'sdk')).toBeUndefined()
    expect(check('widget', 'flow', 'legacy')).toBe('expected one of proxy, sdk')
  })

  it('refuses an unknown directive, an unknown attribute and a value that is not a string', () => {
    expect(check('intercom', 'id', 'x')).toBe('unknown directive (known: widget, caramelo)')
    expect(check('widget', 'colour', 'dark')).toBe(
      'unknown attribute (known: flow, type, id, color, title, height, fallback, loading)',
    )
    expect(check('caramelo', 'flow', 'x')).toBe('unknown attribute (known: project, lang, fallback)')
    expect(check('caramelo', 'loading', 'lazy')).toBe('unknown attribute (known: project, lang, fallback)')
    expect(check('widget', 'id', 42)).toBe('expected a string, got number')
    expect(check('widget', 'id', null)).toBe('expected a string, got null')
    expect(check('widget', 'id', undefined)).toBe('expected a string, got undefined')
  })

  it('checks fallback as a partial name on every directive', () => {
    expect(check('caramelo', 'fallback', 'partials/chat-unavailable')).toBeUndefined()
    expect(check('widget', 'fallback', 'partials/../login', 'sdk')).toBe(
      "expected a partial name such as 'partials/widget-fallback'",
    )
  })
})

describe('Vocabulary.untaken', () => {
  it('says which attributes a flow takes when it does not take this one, else undefined', () => {
    expect(BUILTIN_VOCABULARY.untaken('widget', 'loading', 'sdk')).toBe(
      "flow 'sdk' takes type, id, color, title, height, fallback",
    )
    expect(BUILTIN_VOCABULARY.untaken('widget', 'loading', 'proxy')).toBeUndefined()
    expect(BUILTIN_VOCABULARY.untaken('widget', 'type', 'sdk')).toBeUndefined()
    expect(BUILTIN_VOCABULARY.untaken('widget', 'fallback', 'sdk')).toBeUndefined()
  })

  it('leaves flow itself, an unknown flow and an unknown directive to check', () => {
    expect(BUILTIN_VOCABULARY.untaken('widget', 'flow', 'sdk')).toBeUndefined()
    expect(BUILTIN_VOCABULARY.untaken('widget', 'loading', 'legacy')).toBeUndefined()
    expect(BUILTIN_VOCABULARY.untaken('intercom', 'loading', 'sdk')).toBeUndefined()
  })

  it("checks a single-flow directive's values under the empty flow name the runtime gives it", () => {
    const vocabulary = new Vocabulary([adapter('acme')])
    expect(vocabulary.check('acme', 'size', 'm', '')).toBeUndefined()
    expect(vocabulary.check('acme', 'size', 'xl', '')).toBe('expected one of s, m')
    expect(vocabulary.check('acme', 'loading', 'lazy', '')).toBe('unknown attribute (known: size, fallback)')
  })
})
