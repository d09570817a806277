/**
 * A README section as a newcomer follows it (issue 15): its code blocks, in order — shell lines to type,
 * files to write — read from README.md itself, so the test of a recipe cannot drift from its text.
 *
 * A block is a file when the paragraph that names it comes last before it: one that starts with the
 * file's name in backticks, then `:` or ` —` (`` `server.js` — Koa with… ``). Every other block must be
 * `sh`: its lines are commands, `# comments` after them say what they print.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { cp, mkdir, readFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import { collectLines } from '../testing/app.ts'
import { listeningSockets, type ListeningSocket } from './sockets.ts'

export type Step = { kind: 'sh'; lines: string[] } | { kind: 'file'; name: string; content: string }

/** The text of README section `title` (`## Add it to your app`), up to the next `## `. */
export async function readmeSection(readmeFile: string, title: string): Promise<string> {
  const readme = await readFile(readmeFile, 'utf8')
  const start = readme.indexOf(`\n${title}\n`)
  if (start < 0) throw new Error(`README.md has no "${title}" section`)
  const end = readme.indexOf('\n## ', start + title.length + 2)
  return readme.slice(start, end < 0 ? undefined : end)
}

/** The steps of README section `title`. */
export async function readmeSteps(readmeFile: string, title: string): Promise<Step[]> {
  const section = await readmeSection(readmeFile, title)
  const steps: Step[] = []
  let last = 0
  for (const block of section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)) {
    const [, lang = '', content = ''] = block
    const before = section.slice(last, block.index)
    last = block.index + block[0].length
    const named = before
      .split(/\n\s*\n/)
      .map((paragraph) => /^`([\w./-]+)`(?::| —)/.exec(paragraph.trim())?.[1])
      .filter((name) => name !== undefined)
      .at(-1)
    if (lang === 'sh') steps.push({ kind: 'sh', lines: content.split('\n').filter((line) => line.trim() !== '') })
    else if (named) steps.push({ kind: 'file', name: named, content })
    else throw new Error(`a \`\`\`${lang} block in "${title}" names no file:\n${content}`)
  }
  return steps
}

/** The repo's tracked files, as they are now, copied to `to`: what a fresh clone holds, nothing built or installed. */
export async function freshCheckout(repo: string, to: string): Promise<void> {
  const files = spawnSync('git', ['ls-files', '-z'], { cwd: repo, encoding: 'utf8' })
  if (files.status !== 0) throw new Error(`git ls-files failed: ${files.stderr}`)
  for (const file of files.stdout.split('\0').filter(Boolean)) {
    if (!existsSync(path.join(repo, file))) continue // deleted, not yet committed
    await mkdir(path.dirname(path.join(to, file)), { recursive: true })
    await cp(path.join(repo, file), path.join(to, file))
  }
}

/**
 * What a test must not do as a README says it, rewritten by `rules` ([from, to], applied in order);
 * `unused()` names the rules that never applied — each must, or the README changed under the test.
 */
export function rewriter(rules: readonly (readonly [from: string, to: string])[]): {
  rewrite: (command: string) => string
  unused: () => string[]
} {
  const used = new Set<string>()
  return {
    rewrite: (command) =>
      rules.reduce((text, [from, to]) => {
        if (!text.includes(from)) return text
        used.add(from)
        return text.replaceAll(from, to)
      }, command),
    unused: () => rules.map(([from]) => from).filter((from) => !used.has(from)),
  }
}

/** A shell line and what its comment says it prints, if anything. */
export function parseLine(line: string): { command: string; comment: string } {
  const at = line.indexOf(' #')
  return at < 0
    ? { command: line.trim(), comment: '' }
    : { command: line.slice(0, at).trim(), comment: line.slice(at + 2).trim() }
}

/** Runs one line in bash in `cwd`; its stdout, or a thrown error with everything it printed. */
export function runLine(command: string, cwd: string, env: NodeJS.ProcessEnv): string {
  const done = spawnSync('bash', ['-c', command], { cwd, env, encoding: 'utf8', timeout: 900_000 })
  if (done.status !== 0) {
    throw new Error(`\`${command}\` in ${cwd} exited ${done.status ?? done.signal}:\n${done.stdout}\n${done.stderr}`)
  }
  return done.stdout
}

/** A command left running in a terminal of its own (its process group), as `npm run dev` is. */
export interface Terminal {
  /** The URL it said it listens on. */
  url: string
  /** Every line it printed so far. */
  lines: string[]
  /** The processes it runs (the shell, npm, node…), by pid. */
  pids(): Promise<number[]>
  /** Every TCP socket any of them listens on. */
  listening(): Promise<ListeningSocket[]>
  /**
   * Ctrl-C, as a user stops it: SIGINT to the group. Resolves once every process of it has exited
   * (npm exits on the signal at once; the server's own handler decides when it does), with those
   * still running after `timeoutMs` — none, for a server that closes cleanly.
   */
  interrupt(timeoutMs?: number): Promise<number[]>
  /** Stops it whatever state it is in. */
  kill(): Promise<void>
}

/** Starts `command` in bash; resolves once it prints `ready` (whose first group is the URL). */
export function startTerminal(command: string, cwd: string, env: NodeJS.ProcessEnv, ready: RegExp): Promise<Terminal> {
  const child = spawn('bash', ['-c', command], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)))
  const terminal = (url: string): Terminal => ({
    url,
    lines,
    pids: () => processTree(child),
    listening: async () => (await Promise.all((await processTree(child)).map((pid) => listeningSockets(pid)))).flat(),
    interrupt: async (timeoutMs = 60_000) => {
      const pids = await processTree(child)
      signalGroup(child, 'SIGINT')
      await exited
      const deadline = Date.now() + timeoutMs
      let running = pids.filter(isRunning)
      while (running.length > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        running = running.filter(isRunning)
      }
      return running
    },
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      signalGroup(child, 'SIGKILL')
      await exited
    },
  })
  return new Promise((resolve, reject) => {
    const onLine = (line: string): void => {
      lines.push(line)
      const url = ready.exec(line)?.[1]
      if (url) resolve(terminal(url))
    }
    collectLines(child.stdout, onLine)
    collectLines(child.stderr, onLine)
    void exited.then((code) =>
      reject(new Error(`\`${command}\` exited ${code} before it was ready:\n${lines.join('\n')}`)),
    )
  })
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ') // a zombie has exited
  } catch {
    return false
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // Already gone.
  }
}

/** `child` and all its descendants, from /proc's children lists. */
async function processTree(child: ChildProcess): Promise<number[]> {
  const pids: number[] = []
  const visit = async (pid: number): Promise<void> => {
    pids.push(pid)
    const tasks = await readdir(`/proc/${pid}/task`).catch(() => [])
    for (const task of tasks) {
      const children = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '')
      for (const id of children.split(/\s+/).filter(Boolean)) await visit(Number(id))
    }
  }
  if (child.pid !== undefined) await visit(child.pid)
  return pids
}

/** Where a path a recipe line names resolves, for `cd`. */
export function changeDirectory(cwd: string, command: string): string | undefined {
  const target = /^cd (\S+)$/.exec(command)?.[1]
  return target === undefined ? undefined : path.resolve(cwd, target)
}
