// A second entry: the help card's tips, loaded only when the page has the
// card, as their own chunk with their own CSS (Vite's preload helper adds
// both when the import runs, with the nonce of the page's csp-nonce meta).
import 'vite/modulepreload-polyfill'
import { ready } from './theme.ts'

const card = document.querySelector<HTMLElement>('[data-help]')
if (card) {
  void import('./help-tips.ts').then(({ showTips }) => {
    showTips(card)
    ready('help')
  })
}
