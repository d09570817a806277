/** `stream: 'in-order'`: the page as it renders, each directive where it stands (see `stream-modes.ts`). */
import { test } from './fixtures.ts'
import { documentOrderTest } from './stream-modes.ts'

test.use({ stackOptions: { env: { EMBEDS_STREAM: 'in-order' } } })

documentOrderTest('streamed')
