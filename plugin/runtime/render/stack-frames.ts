/**
 * The frames of an error's stack trace, as V8 recorded them — positions in
 * the code that ran, before anyone mapped them — so that locating a render
 * error does not depend on who formats stack traces in this process: Node
 * with source maps on (Vite's dev server turns them on), Node without, Vite's
 * own interceptor, a test runner's.
 *
 * V8 formats an error's `stack` the first time it is read, through
 * `Error.prepareStackTrace`. Reading it here first, with a hook of ours in
 * place for that one read, hands us the call sites; the stack is formatted
 * exactly as it would have been by the hook that was there, or, when there
 * was none (Node 20), the way Node does: frames mapped through the source
 * maps Node holds.
 */
import { findSourceMap } from 'node:module'
import { fileURLToPath } from 'node:url'

/** One frame: function name, file (a path or URL) and 1-based position. */
export interface Frame {
  fn: string
  file: string
  line: number
  column: number
}

/** The recorded frames, or `undefined` when the stack was formatted before (it is then only text). */
export function recordedFrames(error: Error): Frame[] | undefined {
  // Kept to be put back, and called as V8 calls it, with `Error` as `this`.
  // eslint-disable-next-line @typescript-eslint/unbound-method -- a hook V8 calls unbound
  const previous = Error.prepareStackTrace as ((err: Error, callSites: NodeJS.CallSite[]) => unknown) | undefined
  let recorded: NodeJS.CallSite[] | undefined
  Error.prepareStackTrace = (err, callSites): unknown => {
    recorded = callSites
    return previous ? previous.call(Error, err, callSites) : nodeStack(err, callSites)
  }
  try {
    void error.stack
  } finally {
    Error.prepareStackTrace = previous as typeof Error.prepareStackTrace
  }
  return recorded?.flatMap((site) => {
    const file = site.getFileName() ?? site.getScriptNameOrSourceURL()
    const line = site.getLineNumber()
    const column = site.getColumnNumber()
    if (!file || line === null || column === null) return []
    return [{ fn: site.getFunctionName() ?? '', file, line, column }]
  })
}

// `    at fn (file:line:column)` or `    at file:line:column`.
const FRAME = /^\s*at (?:(.*?) \()?(.+):(\d+):(\d+)\)?$/

/** The frames a formatted stack shows. */
export function printedFrames(stack: string): Frame[] {
  return stack.split('\n').flatMap((line) => {
    const match = FRAME.exec(line)
    if (!match) return []
    let [, fn = '', file = ''] = match
    // `at /a (b)/c.js:1:2` has no function name: its path held the ` (`.
    if (fn && !/^(?:\/|file:|[A-Za-z]:[\\/])/.test(file)) [fn, file] = ['', `${fn} (${file}`]
    return [{ fn: fn.replace(/^(?:async|new) /, ''), file, line: Number(match[3]), column: Number(match[4]) }]
  })
}

/**
 * Node 20's own format, for when no hook was installed: the error, then each
 * frame, mapped through a source map Node holds for its file (it holds them
 * when source maps are on), as Node itself would print it.
 */
function nodeStack(error: Error, callSites: NodeJS.CallSite[]): string {
  const head = Error.prototype.toString.call(error)
  return [head, ...callSites.map((site) => `    at ${mappedCallSite(site)}`)].join('\n')
}

function mappedCallSite(site: NodeJS.CallSite): string {
  // V8's call sites print themselves as a stack line; the typings leave that out.
  const text = (site as unknown as { toString(): string }).toString()
  const file = site.getFileName()
  const line = site.getLineNumber()
  const column = site.getColumnNumber()
  if (!file || line === null || column === null || !process.sourceMapsEnabled) return text
  const entry = findSourceMap(file)?.findEntry(line - 1, column - 1)
  if (!entry || !('originalSource' in entry) || entry.generatedLine !== line - 1) return text
  const source = entry.originalSource.startsWith('file:') ? fileURLToPath(entry.originalSource) : entry.originalSource
  const original = `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`
  return text.replace(`${file}:${line}:${column}`, original)
}
