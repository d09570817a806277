// The demo's main client entry: styles, and a mark that the bundle ran under
// the page's CSP (the e2e suite checks it).
import 'vite/modulepreload-polyfill'
import { ready } from './theme.ts'

ready('client')
