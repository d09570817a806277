/**
 * Splits an Eta template into text, Eta tags and directives. Pure: no I/O.
 *
 * Directives are only recognised in template text: never inside an Eta tag
 * (`<% a << b %>`) nor inside an inline `<script>` element, where `<<` is
 * JavaScript's shift operator. `\<<` writes a literal `<<`.
 */
import type { CompileError, CompileErrorCode } from '../errors.ts'
import { BUILTIN_VOCABULARY } from '../vendors/registry.ts'
import type { Vocabulary } from '../vendors/vocabulary.ts'
import { compileError, LineMap } from './location.ts'

/** A directive attribute's value: a literal string, or JavaScript evaluated at render time. */
export type AttributeValue = { kind: 'literal'; value: string } | { kind: 'expression'; code: string }

export interface Attribute {
  name: string
  value: AttributeValue
  /** Offset of the attribute name in the source. */
  offset: number
}

export interface Directive {
  kind: 'directive'
  name: string
  attributes: Attribute[]
  /** Offsets of `<<` and just past `>>`. */
  start: number
  end: number
}

/** `start` of an Eta tag is the offset of its `<%`, for locating JavaScript errors inside it. */
export type Segment = { kind: 'text'; text: string } | { kind: 'eta'; text: string; start: number } | Directive

const NAME = /[A-Za-z][A-Za-z0-9_-]*/y
const SCRIPT_OPEN = /<script(?=[\s>/])/iy
const SCRIPT_CLOSE = /<\/script(?=[\s>/])/iy
const PLAIN = /[^<\\]*/y

/**
 * Parses `source` (the template file `file`) into segments; throws a located
 * `CompileError`. Directives and their rules come from `vocabulary`.
 */
export function parse(source: string, file: string, vocabulary: Vocabulary = BUILTIN_VOCABULARY): Segment[] {
  return new Parser(source, file, vocabulary).run()
}

class Parser {
  private readonly map: LineMap
  private readonly segments: Segment[] = []
  private text = ''
  private pos = 0
  private inScript = false

  constructor(
    private readonly src: string,
    private readonly file: string,
    private readonly vocabulary: Vocabulary,
  ) {
    this.map = new LineMap(src)
  }

  run(): Segment[] {
    const nul = this.src.indexOf('\u0000')
    if (nul !== -1) throw this.fail('ERR_ETA_SYNTAX', 'template contains a NUL character', nul)
    while (this.pos < this.src.length) this.step()
    this.flushText()
    return this.segments
  }

  private step(): void {
    const { src, pos } = this
    if (src.startsWith('<%', pos)) return this.etaTag()
    if (src.startsWith('\\<<', pos)) {
      this.text += '<<'
      this.pos += 3
      return
    }
    if (!this.inScript && src.startsWith('<<', pos) && /[A-Za-z]/.test(src[pos + 2] ?? '')) {
      return this.directive()
    }
    if (src[pos] === '<') {
      this.trackScript()
      this.text += '<'
      this.pos++
      return
    }
    // Plain text up to the next `<` or `\\`, in one piece: nothing in it can start anything.
    PLAIN.lastIndex = pos
    PLAIN.test(src)
    const end = Math.max(PLAIN.lastIndex, pos + 1)
    this.text += src.slice(pos, end)
    this.pos = end
  }

  /** Follows `<script>` … `</script>` so `a << b` in inline JavaScript stays text. */
  private trackScript(): void {
    const re = this.inScript ? SCRIPT_CLOSE : SCRIPT_OPEN
    re.lastIndex = this.pos
    if (re.test(this.src)) this.inScript = !this.inScript
  }

  private flushText(): void {
    if (this.text) this.segments.push({ kind: 'text', text: this.text })
    this.text = ''
  }

  /** Copies an Eta tag verbatim, skipping strings and comments the way Eta's parser does. */
  private etaTag(): void {
    const start = this.pos
    let i = start + 2
    for (;;) {
      if (i >= this.src.length) throw this.fail('ERR_ETA_SYNTAX', "unclosed Eta tag '<%'", start, "close it with '%>'")
      const ch = this.src[i]
      if (ch === '%' && this.src[i + 1] === '>') break
      if (ch === "'" || ch === '"' || ch === '`') i = this.skipString(i, 'Eta tag')
      else if (ch === '/' && this.src[i + 1] === '*') {
        const close = this.src.indexOf('*/', i + 2)
        if (close === -1) throw this.fail('ERR_ETA_SYNTAX', 'unclosed comment in Eta tag', i)
        i = close + 2
      } else i++
    }
    this.flushText()
    this.segments.push({ kind: 'eta', text: this.src.slice(start, i + 2), start })
    this.pos = i + 2
  }

  /** Returns the offset just past the string literal that opens at `i`. */
  private skipString(i: number, where: string): number {
    const quote = this.src[i]
    let depth = 0
    for (let j = i + 1; j < this.src.length; j++) {
      const ch = this.src[j]
      if (ch === '\\') j++
      else if (quote === '`' && ch === '$' && this.src[j + 1] === '{') depth++
      else if (quote === '`' && ch === '}' && depth > 0) depth--
      else if (ch === quote && depth === 0) return j + 1
      else if (quote !== '`' && (ch === '\n' || ch === '\r')) break
    }
    throw this.fail('ERR_ETA_SYNTAX', `unclosed string in ${where}`, i)
  }

  private directive(): void {
    const start = this.pos
    const name = this.readName(start + 2) ?? ''
    if (!this.vocabulary.get(name)) {
      throw this.fail(
        'ERR_DIRECTIVE_UNKNOWN',
        `unknown directive '<<${name}>>'`,
        start + 2,
        `known: ${this.vocabulary.names().join(', ')}; write '\\<<' for a literal '<<'`,
      )
    }
    this.pos = start + 2 + name.length
    const attributes: Attribute[] = []
    while (!this.atDirectiveEnd(start, name)) attributes.push(this.attribute(name, attributes))
    this.checkFlow(name, attributes)
    this.pos += 2
    this.flushText()
    this.segments.push({ kind: 'directive', name, attributes, start, end: this.pos })
  }

  /**
   * With a literal `flow`, every attribute must be one that flow takes, and
   * each literal value must meet that flow's rule (without one, the flow is
   * chosen at render time, and checked then).
   */
  private checkFlow(directive: string, attributes: Attribute[]): void {
    const flow = attributes.find((a) => a.name === 'flow')
    if (flow?.value.kind !== 'literal') return
    const flowName = flow.value.value
    for (const a of attributes) {
      if (a === flow) continue
      const untaken = this.vocabulary.untaken(directive, a.name, flowName)
      if (untaken) {
        throw this.fail(
          'ERR_ATTRIBUTE_UNKNOWN',
          `unknown attribute '${a.name}' on <<${directive} flow="${flowName}">>`,
          a.offset,
          untaken,
        )
      }
      if (a.value.kind !== 'literal') continue
      const problem = this.vocabulary.check(directive, a.name, a.value.value, flowName)
      if (problem) {
        throw this.fail(
          'ERR_ATTRIBUTE_VALUE',
          `bad value ${JSON.stringify(a.value.value)} for '${a.name}' on <<${directive} flow="${flowName}">>`,
          a.offset + a.name.length + 2,
          problem,
        )
      }
    }
  }

  /** Skips white space; true at `>>`, a located error at anything that cannot continue the directive. */
  private atDirectiveEnd(start: number, name: string): boolean {
    const ws = /\s*/y
    ws.lastIndex = this.pos
    ws.test(this.src)
    const gap = ws.lastIndex - this.pos
    this.pos = ws.lastIndex
    if (this.src.startsWith('>>', this.pos)) return true
    const at = this.src[this.pos]
    if (at === undefined) {
      throw this.fail('ERR_DIRECTIVE_UNCLOSED', `unclosed directive '<<${name}'`, start, "end it with '>>'")
    }
    if (gap === 0 || !/[A-Za-z]/.test(at)) {
      throw this.fail(
        'ERR_DIRECTIVE_UNCLOSED',
        `unexpected ${JSON.stringify(at)} in '<<${name}>>'`,
        this.pos,
        'attributes look like name="value" or name={expression}; the directive ends with \'>>\'',
      )
    }
    return false
  }

  private attribute(directive: string, seen: Attribute[]): Attribute {
    const offset = this.pos
    const name = this.readName(offset) ?? ''
    this.pos += name.length
    const known = this.vocabulary.attributeNames(directive)
    if (!known.includes(name)) {
      throw this.fail(
        'ERR_ATTRIBUTE_UNKNOWN',
        `unknown attribute '${name}' on <<${directive}>>`,
        offset,
        `known: ${known.join(', ')}`,
      )
    }
    if (seen.some((a) => a.name === name)) {
      throw this.fail('ERR_ATTRIBUTE_DUPLICATE', `duplicate attribute '${name}' on <<${directive}>>`, offset)
    }
    if (this.src[this.pos] !== '=') {
      throw this.fail(
        'ERR_ATTRIBUTE_VALUE',
        `missing value for '${name}' on <<${directive}>>`,
        offset,
        `write ${name}="…" or ${name}={expression}`,
      )
    }
    this.pos++
    const value = this.attributeValue(directive, name)
    return { name, value, offset }
  }

  private attributeValue(directive: string, name: string): AttributeValue {
    const at = this.pos
    const open = this.src[at]
    if (open === '"' || open === "'") {
      const close = this.src.indexOf(open, at + 1)
      if (close === -1) throw this.fail('ERR_DIRECTIVE_UNCLOSED', `unclosed value of '${name}' on <<${directive}>>`, at)
      const value = this.src.slice(at + 1, close)
      const problem = this.vocabulary.check(directive, name, value)
      if (problem) {
        throw this.fail(
          'ERR_ATTRIBUTE_VALUE',
          `bad value ${JSON.stringify(value)} for '${name}' on <<${directive}>>`,
          at + 1,
          problem,
        )
      }
      this.pos = close + 1
      return { kind: 'literal', value }
    }
    if (open === '{') return { kind: 'expression', code: this.expression(directive, name) }
    throw this.fail(
      'ERR_ATTRIBUTE_VALUE',
      `missing value for '${name}' on <<${directive}>>`,
      at,
      `write ${name}="…" or ${name}={expression}`,
    )
  }

  /** Reads `{ … }` with balanced braces, strings skipped; returns the code between the braces. */
  private expression(directive: string, name: string): string {
    const open = this.pos
    let depth = 0
    let i = open
    while (i < this.src.length) {
      const ch = this.src[i]
      if (ch === "'" || ch === '"' || ch === '`') {
        i = this.skipString(i, `the expression of '${name}'`)
        continue
      }
      if (ch === '{') depth++
      else if (ch === '}' && --depth === 0) break
      i++
    }
    if (i >= this.src.length) {
      throw this.fail(
        'ERR_DIRECTIVE_UNCLOSED',
        `unclosed expression of '${name}' on <<${directive}>>`,
        open,
        'balance the braces: name={it.value}',
      )
    }
    const code = this.src.slice(open + 1, i)
    if (!code.trim()) throw this.fail('ERR_ATTRIBUTE_VALUE', `empty expression for '${name}' on <<${directive}>>`, open)
    this.pos = i + 1
    return code
  }

  private readName(at: number): string | undefined {
    NAME.lastIndex = at
    return NAME.exec(this.src)?.[0]
  }

  private fail(code: CompileErrorCode, what: string, offset: number, hint?: string): CompileError {
    return compileError(code, what, this.map, this.file, offset, hint)
  }
}
