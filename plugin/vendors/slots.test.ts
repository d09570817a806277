/**
 * The room each built-in adapter says its embed takes (`slot`): what an
 * out-of-order page holds where the directive stands while its vendor answers.
 */
import { describe, expect, it } from 'vitest'
import { TEST_VENDORS } from '../runtime/test-helpers.ts'
import { caramelo } from './caramelo/index.ts'
import { returningProxy } from './returning/proxy.ts'
import { returningSdk } from './returning/sdk.ts'

describe('slot sizes of the built-in adapters', () => {
  const proxy = returningProxy.definition.resolve(TEST_VENDORS.returning, 'options.vendors[0]')
  const sdk = returningSdk.definition.resolve(TEST_VENDORS.returningSdk, 'options.vendors[1]')
  const chat = caramelo.definition.resolve(TEST_VENDORS.caramelo, 'options.vendors[2]')

  it.each([
    ['a proxy widget: its height', returningProxy.definition.slot?.(proxy, { height: '260' }), { height: 260 }],
    ['a proxy widget without one: an iframe’s 150', returningProxy.definition.slot?.(proxy, {}), { height: 150 }],
    ['an SDK widget: its height', returningSdk.definition.slot?.(sdk, { height: '200' }), { height: 200 }],
    ['an SDK widget without one: unknown', returningSdk.definition.slot?.(sdk, {}), undefined],
    ['the chatbot floats: none', caramelo.definition.slot?.(chat, {}), undefined],
  ])('%s', (_what, size, expected) => {
    expect(size).toEqual(expected)
  })
})
