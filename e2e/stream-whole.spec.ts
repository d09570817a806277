/** `stream: false`: the whole page at once, once every vendor has answered (see `stream-modes.ts`). */
import { test } from './fixtures.ts'
import { documentOrderTest } from './stream-modes.ts'

test.use({ stackOptions: { env: { EMBEDS_STREAM: 'off' } } })

documentOrderTest('whole')
