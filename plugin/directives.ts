/**
 * The directive vocabulary: which directives exist, which attributes each one
 * takes and what a valid value looks like. The compiler checks literal values
 * with these rules and the runtime checks `{expression}` values with the very
 * same rules, so a value is either valid everywhere or nowhere.
 */

/** Widget types Returning.AI documents. Anything else never reaches a URL. */
export const WIDGET_TYPES = ['store', 'channel', 'milestone', 'social', 'currency', 'minigames'] as const
export type WidgetType = (typeof WIDGET_TYPES)[number]

/** Ids go into a URL path: a strict character set rules out `..`, `/` and encoded tricks. */
const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/
/** BCP 47-shaped language tag, as Caramelo's `lang` expects (`en`, `pt-BR`). */
const LANG_PATTERN = /^[a-zA-Z]{2,3}(?:-[a-zA-Z0-9]{2,8})*$/
/** A partial's name: safe path segments, optionally led by `./` or `../` (resolved from the template). */
const PARTIAL_PATTERN = /^(?:\.\.?\/)*(?!.*\/\.\.?(?:\/|$))[A-Za-z0-9_][A-Za-z0-9_./-]{0,127}$/
/** Printable text without control characters (an iframe title is shown to screen readers). */
// eslint-disable-next-line no-control-regex -- the pattern exists to refuse control characters
const TEXT_PATTERN = /^[^\u0000-\u001f\u007f]{1,200}$/

type Check = (value: string) => string | undefined

function oneOf(values: readonly string[]): Check {
  return (value) => (values.includes(value) ? undefined : `expected one of ${values.join(', ')}`)
}

function matches(pattern: RegExp, what: string): Check {
  return (value) => (pattern.test(value) ? undefined : `expected ${what}`)
}

function pixels(value: string): string | undefined {
  const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN
  return n >= 1 && n <= 10000 ? undefined : 'expected a whole number of pixels from 1 to 10000'
}

/** Every directive with its attributes and the rule each attribute's value must meet. */
export const DIRECTIVES = {
  widget: {
    type: oneOf(WIDGET_TYPES),
    id: matches(ID_PATTERN, 'letters, digits, _ or - (at most 64)'),
    color: oneOf(['light', 'dark']),
    title: matches(TEXT_PATTERN, 'text of 1 to 200 characters without control characters'),
    height: pixels,
    loading: oneOf(['eager', 'lazy']),
    fallback: matches(PARTIAL_PATTERN, "a partial name such as 'partials/widget-fallback'"),
  },
  caramelo: {
    project: matches(ID_PATTERN, 'letters, digits, _ or - (at most 64)'),
    lang: matches(LANG_PATTERN, "a language tag such as 'en' or 'pt-BR'"),
    fallback: matches(PARTIAL_PATTERN, "a partial name such as 'partials/chat-fallback'"),
  },
} satisfies Record<string, Record<string, Check>>

export type DirectiveName = keyof typeof DIRECTIVES
export type WidgetAttributes = Partial<Record<keyof (typeof DIRECTIVES)['widget'], string>>
export type CarameloAttributes = Partial<Record<keyof (typeof DIRECTIVES)['caramelo'], string>>

/** Whether `name` is a directive this package knows. */
export function isDirectiveName(name: string): name is DirectiveName {
  return Object.hasOwn(DIRECTIVES, name)
}

/** The attribute names a directive accepts, in declaration order (used in error messages). */
export function attributeNames(directive: DirectiveName): string[] {
  return Object.keys(DIRECTIVES[directive])
}

/**
 * Checks one attribute value. Returns `undefined` when valid, else a short
 * reason (`expected one of light, dark`) for the caller to put in its message.
 */
export function checkAttribute(directive: DirectiveName, name: string, value: unknown): string | undefined {
  const rules: Record<string, Check> = DIRECTIVES[directive]
  const rule = rules[name]
  if (!rule) return `unknown attribute (known: ${attributeNames(directive).join(', ')})`
  if (typeof value !== 'string') return `expected a string, got ${value === null ? 'null' : typeof value}`
  return rule(value)
}
