/**
 * Where in the author's templates an error thrown during a render happened
 * (issue 13), read from its stack trace. Nothing is tracked while a page
 * renders: the compiled templates carry source maps back to their `.eta`
 * files (`compiler/source-map.ts`), and only a failed render pays for
 * reading them, once per file.
 *
 * Two cases, told apart by the frame's file:
 * - a `.eta` file: the stack is already mapped — Vite's dev server runs
 *   modules with Node's source maps on;
 * - a JavaScript file (the server build, `templates.js`): its source map is
 *   read from disk (`sourceMappingURL`, else `<file>.map`) and the position
 *   traced through it.
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { originalPositionFor, sourceContentFor, TraceMap } from '@jridgewell/trace-mapping'
import { codeFrame } from '../../code-frame.ts'

/** One frame of a stack trace that lands in a template, by the template's own name for its file. */
export interface TemplateSite {
  /** The template file as compiled templates name it (`meta.file`: `templates/home.eta`). */
  file: string
  line: number
  column: number
  /** The template's source, when it can be had (for a code frame). */
  source: () => string | undefined
}

interface Frame {
  fn: string
  file: string
  line: number
  column: number
}

// `    at fn (file:line:column)` or `    at file:line:column`.
const FRAME = /^\s*at (?:(.*?) \()?(.+):(\d+):(\d+)\)?$/
// Helpers Eta writes at the top of every compiled template. They have no
// line in the author's file, so the stack's position for them is the
// module's own — which, in dev, already carries the `.eta` file's name.
const ETA_HELPER = /(?:^|\.)(?:include|includeAsync|layout|output|capture|captureAsync|block|blockAsync|__name)$/

/**
 * The template sites in `error`'s stack, innermost first. `files` are the
 * compiled templates' `meta.file` names: a frame counts only when it maps to
 * one of them.
 */
export function templateSites(error: unknown, files: readonly string[]): TemplateSite[] {
  const stack = error instanceof Error && typeof error.stack === 'string' ? error.stack : ''
  const sites: TemplateSite[] = []
  for (const line of stack.split('\n')) {
    const frame = parseFrame(line)
    if (!frame || ETA_HELPER.test(frame.fn)) continue
    const site = siteOf(frame, files)
    const previous = sites.at(-1)
    // A template calling itself, or one frame per async step: one site each.
    if (site && !(previous && sameSite(previous, site))) sites.push(site)
  }
  return sites
}

/** The code frame of a site: the template's lines around it, or nothing without its source. */
export function siteFrame(site: TemplateSite): string | undefined {
  const source = site.source()
  return source === undefined ? undefined : codeFrame(source, site.line, site.column)
}

function parseFrame(line: string): Frame | undefined {
  const match = FRAME.exec(line)
  if (!match) return undefined
  let [, fn = '', file = ''] = match
  // `at /a (b)/c.js:1:2` has no function name: its path held the ` (`.
  if (fn && !/^(?:\/|file:|[A-Za-z]:[\\/])/.test(file)) [fn, file] = ['', `${fn} (${file}`]
  const name = fn.replace(/^(?:async|new) /, '')
  return { fn: name, file: toPath(file), line: Number(match[3]), column: Number(match[4]) }
}

function toPath(file: string): string {
  if (!file.startsWith('file:')) return file
  try {
    return fileURLToPath(file)
  } catch {
    return file
  }
}

function siteOf(frame: Frame, files: readonly string[]): TemplateSite | undefined {
  if (frame.file.endsWith('.eta')) {
    const file = templateFile(frame.file, files)
    return file ? { file, line: frame.line, column: frame.column, source: () => readText(frame.file) } : undefined
  }
  const map = sourceMapOf(frame.file)
  if (!map) return undefined
  const original = originalPositionFor(map, { line: frame.line, column: frame.column - 1 })
  if (original.source === null) return undefined
  const file = templateFile(original.source, files)
  if (!file) return undefined
  const source = original.source
  return {
    file,
    line: original.line,
    column: original.column + 1,
    source: () => sourceContentFor(map, source) ?? undefined,
  }
}

/** The compiled template's name for the file at `found` (an absolute path or URL, any separators). */
function templateFile(found: string, files: readonly string[]): string | undefined {
  const normal = toPath(found).split(path.sep).join('/')
  return files.find((file) => normal === file || normal.endsWith(`/${file}`))
}

function sameSite(a: TemplateSite, b: TemplateSite): boolean {
  return a.file === b.file && a.line === b.line && a.column === b.column
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}

// Source maps read so far, by the file they map (`null`: it has none). Few
// files ever show up in template stacks; the bound keeps a process whose
// stacks run through many others from keeping every map it ever read.
const maps = new Map<string, TraceMap | null>()
const MAX_MAPS = 32

function sourceMapOf(file: string): TraceMap | null {
  if (!/\.[cm]?js$/.test(file) || file.split(path.sep).includes('node_modules') || !path.isAbsolute(file)) return null
  let map = maps.get(file)
  if (map !== undefined) return map
  map = readSourceMap(file)
  if (maps.size >= MAX_MAPS) maps.clear()
  maps.set(file, map)
  return map
}

const MAP_COMMENT = /\/\/[#@] sourceMappingURL=(\S+)\s*$/

function readSourceMap(file: string): TraceMap | null {
  try {
    const url = MAP_COMMENT.exec(readText(file)?.slice(-4096) ?? '')?.[1]
    if (url?.startsWith('data:')) {
      const base64 = url.slice(url.indexOf(',') + 1)
      return new TraceMap(Buffer.from(base64, 'base64').toString('utf8'), file)
    }
    const mapFile = url ? path.resolve(path.dirname(file), decodeURIComponent(url)) : `${file}.map`
    if (!existsSync(mapFile)) return null
    return new TraceMap(readFileSync(mapFile, 'utf8'), mapFile)
  } catch {
    // An unreadable or malformed map: the error is reported without a template line.
    return null
  }
}
