// The demo's client bundle: styles, and a mark that the bundle ran under the
// page's CSP (the e2e suite checks it).
import './style.css'

document.documentElement.dataset['client'] = 'ready'
