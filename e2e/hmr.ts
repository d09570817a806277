import type { Page } from '@playwright/test'

/**
 * Whether the page's current document has its Vite client connected to HMR,
 * on Vite's own `[vite] connected.` log. A navigation starts a new document,
 * disconnected until its client logs: an edit reloads only the pages whose
 * client is connected when the server sends the reload.
 */
export function hmrConnection(page: Page): () => boolean {
  let connected = false
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) connected = false
  })
  page.on('console', (message) => {
    if (message.text() === '[vite] connected.') connected = true
  })
  return () => connected
}
