/**
 * The code frame under a located error — compile time and render time alike:
 * the lines around the place, the place's line marked, a caret under its column.
 */

/**
 * Two lines of context either side of `line`, a `>` on the line itself and a
 * caret under `column` — the shape Vite's overlay and terminals show.
 */
export function codeFrame(source: string, line: number, column: number): string {
  const lines = source.split(/\r?\n/)
  const first = Math.max(1, line - 2)
  const last = Math.min(lines.length, line + 2)
  const width = String(last).length
  const out: string[] = []
  for (let n = first; n <= last; n++) {
    const text = lines[n - 1] ?? ''
    out.push(`${n === line ? '>' : ' '} ${String(n).padStart(width)} | ${text}`)
    if (n === line) out.push(`  ${' '.repeat(width)} | ${' '.repeat(Math.max(0, column - 1))}^`)
  }
  return out.join('\n')
}
