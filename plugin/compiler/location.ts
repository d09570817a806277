/**
 * Offsets → `line:column` and code frames, for compile errors that point at
 * the template the author wrote.
 */
import { codeFrame } from '../code-frame.ts'
import { CompileError, type CompileErrorCode, type SourceLocation } from '../errors.ts'

/** Maps character offsets of one source text to 1-based lines and columns. */
export class LineMap {
  private readonly starts: number[] = [0]
  constructor(readonly source: string) {
    for (let i = source.indexOf('\n'); i !== -1; i = source.indexOf('\n', i + 1)) this.starts.push(i + 1)
  }

  /** 1-based line and column of `offset`. */
  position(offset: number): { line: number; column: number } {
    let lo = 0
    let hi = this.starts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if ((this.starts[mid] ?? 0) <= offset) lo = mid
      else hi = mid - 1
    }
    return { line: lo + 1, column: offset - (this.starts[lo] ?? 0) + 1 }
  }
}

/** Builds a located `CompileError` whose message ends with `file:line:column`. */
export function compileError(
  code: CompileErrorCode,
  what: string,
  map: LineMap,
  file: string,
  offset: number,
  hint?: string,
  cause?: unknown,
): CompileError {
  const { line, column } = map.position(offset)
  const loc: SourceLocation = { file, line, column }
  const message = `${what} at ${file}:${line}:${column}${hint ? ` (${hint})` : ''}`
  return new CompileError(code, message, loc, codeFrame(map.source, line, column), { cause })
}
