import { execFileSync } from 'node:child_process'
import { canarySecrets } from 'vite-plugin-eta-embeds/testing'

// A build that saw the canaries: the kit then proves that none of them reached dist/.
export default function globalSetup() {
  execFileSync('npx', ['vite', 'build'], { stdio: 'inherit', env: { ...process.env, ...canarySecrets() } })
}
