/**
 * Which Chromium the suite drives: `CHROMIUM_PATH` when set, else Playwright's
 * own download when one is installed, else a system Chromium found on PATH
 * (Debian's `chromium` package on CI). Never one hard-coded path.
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { chromium } from '@playwright/test'

const SYSTEM_NAMES = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome']

function onPath(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name)
    if (dir && existsSync(candidate)) return candidate
  }
  return undefined
}

/** The executable to launch, or `undefined` to let Playwright use its own browser. */
export function chromiumExecutable(): string | undefined {
  const configured = process.env['CHROMIUM_PATH']
  if (configured) {
    if (!existsSync(configured)) throw new Error(`CHROMIUM_PATH points at '${configured}', which does not exist`)
    return configured
  }
  if (existsSync(chromium.executablePath())) return undefined
  for (const name of SYSTEM_NAMES) {
    const found = onPath(name)
    if (found) return found
  }
  throw new Error(
    'no Chromium found: install one (Debian: apt-get install -y chromium; or: npx playwright install chromium) ' +
      'or set CHROMIUM_PATH',
  )
}

/**
 * Flags for running as root in a container and on a closed network: without
 * the background-networking ones Chromium keeps dialling Google's hosts.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]
