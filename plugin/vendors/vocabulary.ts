/**
 * The directive vocabulary, derived from the registered adapters: which
 * directives exist, their flows, and the rule of every attribute. The
 * compiler checks literal values with it and the runtime checks `{expression}`
 * values with the very same rules, so a value is valid everywhere or nowhere.
 * A directive exists only because an adapter declares it: there is no list of
 * names to forget to extend, and no default flow for an unknown one.
 */
import type { AnyVendorDefinition, AttributeRule } from './define.ts'
import { oneOf, partialName } from './rules.ts'

// The vocabulary reads only the pure part of a definition.
type Definition = Pick<
  AnyVendorDefinition,
  'name' | 'directive' | 'flow' | 'title' | 'attributes' | 'onePerPage' | 'lazy'
>

/** One directive: its flows in registration order (the first configured one is the default) and its attributes. */
export interface DirectiveSpec {
  name: string
  flows: readonly Definition[]
  /** Every attribute any flow takes, with the runtime's own (`fallback`, `flow`, `loading`). */
  attributes: ReadonlyMap<string, AttributeRule>
  onePerPage: string | undefined
}

const DIRECTIVE_NAME = /^[a-z][a-z0-9-]{0,31}$/
const ATTRIBUTE_NAME = /^[a-z][a-z0-9-]{0,31}$/
const RESERVED = new Set(['fallback', 'flow', 'loading'])

/** The attributes one flow takes, the runtime's own included. */
export function flowAttributes(flow: Definition): Map<string, AttributeRule> {
  const rules = new Map<string, AttributeRule>(Object.entries(flow.attributes))
  rules.set('fallback', partialName)
  if (flow.lazy) rules.set('loading', oneOf(['eager', 'lazy']))
  return rules
}

export class Vocabulary {
  private readonly directives = new Map<string, DirectiveSpec>()

  /** Throws a `TypeError` naming the adapter when two disagree (same name, same flow, a reserved attribute). */
  constructor(definitions: readonly Definition[]) {
    const names = new Set<string>()
    const grouped = new Map<string, Definition[]>()
    for (const d of definitions) {
      if (names.has(d.name)) throw new TypeError(`two vendor adapters are named '${d.name}'`)
      names.add(d.name)
      if (!DIRECTIVE_NAME.test(d.directive)) {
        throw new TypeError(`vendor adapter '${d.name}': directive '${d.directive}' must match ${DIRECTIVE_NAME}`)
      }
      for (const attribute of Object.keys(d.attributes)) {
        if (!ATTRIBUTE_NAME.test(attribute) || RESERVED.has(attribute)) {
          throw new TypeError(
            `vendor adapter '${d.name}': attribute '${attribute}' must match ${ATTRIBUTE_NAME} and not be one of ${[...RESERVED].join(', ')}`,
          )
        }
      }
      grouped.set(d.directive, [...(grouped.get(d.directive) ?? []), d])
    }
    for (const [name, flows] of grouped) this.directives.set(name, directiveSpec(name, flows))
  }

  /** Known directive names, in registration order. */
  names(): string[] {
    return [...this.directives.keys()]
  }

  get(directive: string): DirectiveSpec | undefined {
    return this.directives.get(directive)
  }

  /** The attribute names `directive` accepts, in declaration order (for error messages). */
  attributeNames(directive: string): string[] {
    return [...(this.directives.get(directive)?.attributes.keys() ?? [])]
  }

  /**
   * Checks one value. With `flow` the value must meet that flow's rule;
   * without, the rule of any flow that takes the attribute (the flow is then
   * chosen at render time, and checked again). `undefined` when valid, else
   * a short reason.
   */
  check(directive: string, attribute: string, value: unknown, flow?: string): string | undefined {
    const spec = this.directives.get(directive)
    if (!spec) return `unknown directive (known: ${this.names().join(', ')})`
    if (!spec.attributes.has(attribute)) {
      return `unknown attribute (known: ${[...spec.attributes.keys()].join(', ')})`
    }
    if (typeof value !== 'string') return `expected a string, got ${value === null ? 'null' : typeof value}`
    if (attribute === 'flow') return spec.attributes.get('flow')?.(value)
    const untaken = flow === undefined ? undefined : this.untaken(directive, attribute, flow)
    if (untaken) return untaken
    const flows = flow === undefined ? spec.flows : spec.flows.filter((f) => (f.flow ?? '') === flow)
    // Valid when any flow takes it. Otherwise the reason is the first flow's,
    // the default one: a later flow's may list less than what compiles.
    let reason: string | undefined
    for (const f of flows) {
      const rule = flowAttributes(f).get(attribute)
      if (!rule) continue
      const problem = rule(value)
      if (problem === undefined) return undefined
      reason ??= problem
    }
    return reason
  }

  /** Why flow `flow` of `directive` does not take `attribute`, or `undefined` when it does. */
  untaken(directive: string, attribute: string, flow: string): string | undefined {
    const chosen = this.directives.get(directive)?.flows.find((f) => (f.flow ?? '') === flow)
    if (!chosen || attribute === 'flow') return undefined
    const own = flowAttributes(chosen)
    return own.has(attribute) ? undefined : `flow '${flow}' takes ${[...own.keys()].join(', ')}`
  }
}

function directiveSpec(name: string, flows: Definition[]): DirectiveSpec {
  if (flows.length > 1) {
    const unnamed = flows.find((f) => !f.flow)
    if (unnamed)
      throw new TypeError(`vendor adapter '${unnamed.name}': <<${name}>> has several flows, so it needs a 'flow' name`)
    const flowNames = flows.map((f) => f.flow as string)
    const twice = flowNames.find((f, i) => flowNames.indexOf(f) !== i)
    if (twice) {
      const adapters = flows.filter((f) => f.flow === twice).map((f) => `'${f.name}'`)
      throw new TypeError(`vendor adapters ${adapters.join(' and ')}: <<${name}>> has two flows named '${twice}'`)
    }
  }
  const attributes = new Map<string, AttributeRule>()
  if (flows.length > 1) attributes.set('flow', oneOf(flows.map((f) => f.flow as string)))
  for (const flow of flows) {
    for (const [attribute, rule] of flowAttributes(flow))
      if (!attributes.has(attribute)) attributes.set(attribute, rule)
  }
  const onePerPage = flows.find((f) => f.onePerPage)?.onePerPage
  return { name, flows, attributes, onePerPage }
}
