/**
 * The compiled function parsed once at build time: a JavaScript syntax error
 * inside an Eta tag or an `{expression}` would otherwise surface as a
 * confusing error in generated code when the module loads. It is reported at
 * the tag or expression it comes from. Pure: no I/O, nothing is run.
 */
import vm from 'node:vm'
import { Eta } from 'eta/core'
import { compileError, type LineMap } from './location.ts'
import type { Directive, Segment } from './parse.ts'

const AsyncFunction = (async () => {}).constructor as new (...args: string[]) => unknown
// Only used to locate a syntax error: debug output marks the start of each tag.
const debugEta = new Eta({ debug: true })
const TAG_LINE = /^__eta\.line=\d+$/

export interface SyntaxContext {
  etaSource: string
  segments: Segment[]
  directives: Directive[]
  isAsync: boolean
}

/**
 * Parses the generated function once at build time. A JavaScript syntax
 * error inside an Eta tag would otherwise surface as a confusing error in
 * generated code; it is reported at the tag or {expression} it comes from.
 */
export function checkSyntax(body: string, context: SyntaxContext, map: LineMap, file: string): void {
  const error = syntaxError(body, context.isAsync)
  if (!error) return
  const { offset, hint } = locateSyntaxError(context, map.source.length)
  throw compileError(
    'ERR_ETA_SYNTAX',
    `JavaScript syntax error in a tag or {expression}: ${error.message}`,
    map,
    file,
    offset,
    hint,
    error,
  )
}

function syntaxError(body: string, isAsync: boolean): SyntaxError | undefined {
  // The emitted file is an ES module, which is strict: check with strict rules
  // (`<%= 010 %>` parses sloppy but would fail to load).
  const strict = `'use strict';\n${body}`
  try {
    if (isAsync) new AsyncFunction('it', 'options', strict)
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- build time only: a syntax check, never run
    else new Function('it', 'options', strict)
    return undefined
  } catch (error) {
    if (error instanceof SyntaxError) return error
    throw error
  }
}

/**
 * An {expression} is complete on its own, so it is checked alone, in the
 * shape codegen gives it. A tag is a fragment (`<% for (…) { %>`), so the
 * template is compiled again with Eta's debug marks before each tag, and the
 * last mark before V8's line of the error names the tag.
 */
function locateSyntaxError(context: SyntaxContext, end: number): { offset: number; hint: string } {
  for (const d of context.directives) {
    for (const a of d.attributes) {
      if (a.value.kind !== 'expression') continue
      if (syntaxError(`return {${JSON.stringify(a.name)}: (${a.value.code})}`, context.isAsync)) {
        return { offset: a.offset + a.name.length + 1, hint: `check the {expression} of '${a.name}'` }
      }
    }
  }
  const body = debugEta.compileToString(context.etaSource, { async: context.isAsync })
  const lines = body.split('\n')
  try {
    new vm.Script(`'use strict';(${context.isAsync ? 'async ' : ''}function (it, options) {\n${body}\n})`, {
      filename: 'template',
    })
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error
    // The stack starts `template:LINE`; line 1 is the wrapper's own.
    const at = Number(/^template:(\d+)\n/.exec(error.stack ?? '')?.[1] ?? NaN) - 2
    // Eta's debug epilogue (`} catch (e) {…}`) fails only when a tag left a block open.
    const epilogue = lines.findIndex((l) => l.startsWith('} catch (e)'))
    if (epilogue !== -1 && at >= epilogue) return { offset: end, hint: 'a block opened in <% %> is not closed' }
    const marks = lines.slice(0, Math.max(0, at)).filter((l) => TAG_LINE.test(l)).length
    const tag = context.segments.filter((s) => s.kind === 'eta')[marks - 1]
    if (tag) return { offset: tag.start, hint: 'check the code inside this tag' }
  }
  return { offset: 0, hint: 'check the code inside <% %> and {…}' }
}
