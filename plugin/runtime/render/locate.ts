/**
 * Where in the author's templates an error thrown during a render happened
 * (issue 13), read from its stack trace. Nothing is tracked while a page
 * renders: the compiled templates carry source maps back to their `.eta`
 * files (`compiler/source-map.ts`), and only a failed render pays for
 * reading them, once per file.
 *
 * A frame's position in the code that ran is traced through the source map
 * Node holds for that file (Vite's dev server runs templates with Node's
 * source maps on), else the one beside the file on disk (the server build,
 * `templates.js.map`). When the stack was formatted before it got here, its
 * printed frames are read instead, a `.eta` file's as already mapped.
 */
import { existsSync, readFileSync } from 'node:fs'
import { findSourceMap } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { originalPositionFor, sourceContentFor, TraceMap } from '@jridgewell/trace-mapping'
import { codeFrame } from '../../code-frame.ts'
import { printedFrames, recordedFrames, type Frame } from './stack-frames.ts'

/** One frame of a stack trace that lands in a template, by the template's own name for its file. */
export interface TemplateSite {
  /** The template file as compiled templates name it (`meta.file`: `templates/home.eta`). */
  file: string
  line: number
  column: number
  /** The template's source, when it can be had (for a code frame). */
  source: () => string | undefined
}

// Helpers Eta writes at the top of every compiled template. They have no
// line in the author's file, and a printed stack gives the module's own.
const ETA_HELPER = /(?:^|\.)(?:include|includeAsync|layout|output|capture|captureAsync|block|blockAsync|__name)$/

/**
 * The template sites in `error`'s stack, innermost first. `files` are the
 * compiled templates' `meta.file` names: a frame counts only when it maps to
 * one of them.
 */
export function templateSites(error: unknown, files: readonly string[]): TemplateSite[] {
  if (!(error instanceof Error)) return []
  const recorded = recordedFrames(error)
  const traced = recorded ? distinct(recorded.map((frame) => tracedSite(frame, files))) : []
  if (traced.length || typeof error.stack !== 'string') return traced
  const printed = printedFrames(error.stack).filter((frame) => !ETA_HELPER.test(frame.fn))
  return distinct(printed.map((frame) => (isEta(frame.file) ? printedSite(frame, files) : tracedSite(frame, files))))
}

/** The code frame of a site: the template's lines around it, or nothing without its source. */
export function siteFrame(site: TemplateSite): string | undefined {
  const source = site.source()
  return source === undefined ? undefined : codeFrame(source, site.line, site.column)
}

/** A frame in code that ran, traced to the template line it came from. */
function tracedSite(frame: Frame, files: readonly string[]): TemplateSite | undefined {
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
    source: () => sourceContentFor(map, source) ?? readText(toPath(source)),
  }
}

/** A frame a formatter already mapped to a `.eta` file. */
function printedSite(frame: Frame, files: readonly string[]): TemplateSite | undefined {
  const file = templateFile(frame.file, files)
  const where = toPath(frame.file)
  return file ? { file, line: frame.line, column: frame.column, source: () => readText(where) } : undefined
}

/** A template calling itself, or one frame per async step: one site each. */
function distinct(sites: (TemplateSite | undefined)[]): TemplateSite[] {
  const out: TemplateSite[] = []
  for (const site of sites) {
    const last = out.at(-1)
    if (site && !(last && last.file === site.file && last.line === site.line && last.column === site.column)) {
      out.push(site)
    }
  }
  return out
}

/** The compiled template's name for the file at `found` (an absolute path or URL, any separators). */
function templateFile(found: string, files: readonly string[]): string | undefined {
  const normal = safeDecode(toPath(found)).split(path.sep).join('/')
  return files.find((file) => normal === file || normal.endsWith(`/${file}`))
}

function isEta(file: string): boolean {
  return /\.eta$/.test(file)
}

function toPath(file: string): string {
  if (!file.startsWith('file:')) return file
  try {
    return fileURLToPath(file)
  } catch {
    return file
  }
}

/** Vite's dev server names modules by URL-encoded paths (`/my%20app/…`). */
function safeDecode(file: string): string {
  try {
    return decodeURI(file)
  } catch {
    return file
  }
}

function readText(file: string): string | undefined {
  for (const candidate of [file, safeDecode(file)]) {
    try {
      return readFileSync(candidate, 'utf8')
    } catch {
      // Not there under this name: try the next, else no frame.
    }
  }
  return undefined
}

// Source maps read from disk so far, by the file they map (`null`: it has
// none). Few files ever show up in template stacks; the bound keeps a process
// whose stacks run through many others from keeping every map it read.
const diskMaps = new Map<string, TraceMap | null>()
const nodeMaps = new WeakMap<object, TraceMap>()
const MAX_MAPS = 32

/** The map of the file a frame names (as V8 names it: a path, a `file:` URL or a module's source URL). */
function sourceMapOf(frameFile: string): TraceMap | null {
  const file = toPath(frameFile)
  const held = findSourceMap(frameFile) ?? findSourceMap(file)
  if (held) {
    let map = nodeMaps.get(held)
    if (!map) nodeMaps.set(held, (map = new TraceMap(held.payload as never, frameFile)))
    return map
  }
  if (!/\.[cm]?js$/.test(file) || file.split(path.sep).includes('node_modules') || !path.isAbsolute(file)) return null
  let map = diskMaps.get(file)
  if (map !== undefined) return map
  map = readSourceMap(file)
  if (diskMaps.size >= MAX_MAPS) diskMaps.clear()
  diskMaps.set(file, map)
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
