import { describe, expect, it } from 'vitest'
import { ERROR_PAGE_CHECK } from '../../dev-protocol.ts'
import { errorOverlayPage } from './dev-errors.ts'
import { TEST_NONCE } from '../test-helpers.ts'

const error = new Error("unknown attribute 'colour' on <<widget>> at templates/home.eta:9:14")

describe('the development error page', () => {
  it('asks the plugin, once its HMR socket is open, whether the templates changed since it was rendered', () => {
    const page = errorOverlayPage(error, TEST_NONCE, 3)
    expect(page).toContain(
      `createHotContext('/@eta-embeds/error-page').send("${ERROR_PAGE_CHECK}", {"templatesVersion":3})`,
    )
  })

  it('only shows the overlay when it has no templates version to compare', () => {
    const page = errorOverlayPage(error, TEST_NONCE)
    expect(page).toContain('new ErrorOverlay(')
    expect(page).not.toContain(ERROR_PAGE_CHECK)
  })
})
