/**
 * Renders a compiled page: registers the compiled templates with Eta, starts
 * the vendor calls known in advance, runs the template and hands back the
 * page as chunks (see `scope.ts` for the directives themselves). The
 * render is one span, the parent of its directives' (issue 12).
 */
import { context } from '@opentelemetry/api'
import { Eta } from 'eta/core'
import { RenderError } from '../../errors.ts'
import { HOST_OPTION, type DirectiveInfo, type TemplateMap, type TemplateModule } from '../../template-module.ts'
import type { Runtime } from '../runtime.ts'
import { endWithChunks, fail, startPageSpan } from '../tracing.ts'
import { locatedRenderError } from './render-error.ts'
import { RenderScope, type PageContext, type WriteOrder } from './scope.ts'

export type { PageContext, TemplateMap, TemplateModule, WriteOrder }

type EtaFn = Parameters<Eta['loadTemplate']>[1]
/** What is derived once from a set of compiled templates, then reused by every render. */
interface Engine {
  eta: Eta
  /** The map's templates plus every template they import, by canonical name. */
  modules: Map<string, TemplateModule>
  /** Their files (`meta.file`), for locating render errors. */
  files: string[]
  /** Per page: the directives whose vendor calls may start before it runs. */
  prefetch: Map<string, DirectiveInfo[]>
}

const engines = new WeakMap<TemplateMap, Engine>()

/**
 * One Eta instance per set of compiled templates. The templates are plain
 * functions registered by name, so Eta never compiles anything at request time.
 */
function engineFor(templates: TemplateMap): Engine {
  let engine = engines.get(templates)
  if (engine) return engine
  const eta = new Eta()
  const modules = allTemplates(templates)
  for (const [name, mod] of modules) {
    const fn = mod.default as unknown as EtaFn
    eta.templatesAsync.define(name, fn as never)
    // A sync include() of an async template would print "[object Promise]": say what to do instead.
    eta.templatesSync.define(name, (mod.meta.async ? asyncInSyncInclude(name) : fn) as never)
  }
  const files = [...modules.values()].map((mod) => mod.meta.file)
  engine = { eta, modules, files, prefetch: new Map() }
  engines.set(templates, engine)
  return engine
}

/** The map's templates plus every template they import, by canonical name. */
function allTemplates(templates: TemplateMap): Map<string, TemplateModule> {
  const found = new Map<string, TemplateModule>()
  const visit = (name: string, mod: TemplateModule): void => {
    if (found.has(name)) return
    found.set(name, mod)
    for (const [dep, depMod] of Object.entries(mod.dependencies ?? {})) visit(dep, depMod)
  }
  for (const [name, mod] of Object.entries(templates)) visit(name, mod)
  return found
}

function asyncInSyncInclude(name: string): () => never {
  return () => {
    throw new RenderError(
      'ERR_TEMPLATE_ASYNC',
      `template '${name}' uses await, so it must be rendered with await includeAsync('${name}') from an async template`,
    )
  }
}

/**
 * Runs template `name` with `data` for one request and returns the page as
 * chunks, in `order`: in document order the text up to the first directive
 * is ready at once and each directive follows as its vendor answers (or its
 * fallback); in settle order the page's own content is ready at once, each
 * directive held by a slot, and the directives follow as they settle. The
 * template itself has run by the time this resolves, so template errors
 * reject here, before any byte is sent, as a `RenderError` located at the
 * template line (see render-error.ts); the chunks themselves never fail.
 */
export async function renderPageChunks(
  runtime: Runtime,
  templates: TemplateMap,
  name: string,
  data: object,
  page: PageContext,
  order: WriteOrder = 'document',
): Promise<AsyncGenerator<string>> {
  if (!Object.hasOwn(templates, name)) {
    throw new RenderError(
      'ERR_TEMPLATE_NOT_FOUND',
      `no template '${name}' (known: ${Object.keys(templates).join(', ')})`,
    )
  }
  const engine = engineFor(templates)
  const scope = new RenderScope(runtime, engine.eta, page, engine.files)
  const traced = startPageSpan(runtime.tracing, name)
  try {
    // Inside the page's span: the directives' calls, prefetched or started
    // where the template reaches them, become its children.
    const html = await context.with(traced.context, () => {
      scope.prefetch(prefetchable(engine, name))
      return engine.eta.renderAsync(name, data, { [HOST_OPTION]: scope } as never)
    })
    // The span lasts until the last chunk: the directives settle while the page streams.
    return endWithChunks(traced.span, scope.chunks(html, order))
  } catch (error) {
    scope.cancel()
    const located = locatedRenderError(error, engine.files, name)
    fail(traced.span, located)
    traced.span.end()
    throw located
  }
}

/** Renders template `name` with `data` for one request, as one string. */
export async function renderPage(
  runtime: Runtime,
  templates: TemplateMap,
  name: string,
  data: object,
  page: PageContext,
): Promise<string> {
  return joinChunks(await renderPageChunks(runtime, templates, name, data, page))
}

/** A page's chunks as one string. */
export async function joinChunks(chunks: AsyncIterable<string>): Promise<string> {
  let out = ''
  for await (const chunk of chunks) out += chunk
  return out
}

/**
 * The page's directives that run on every render, its unconditional includes'
 * and layout's too. Fixed for a set of templates: worked out once per page.
 */
function prefetchable(engine: Engine, name: string): DirectiveInfo[] {
  const known = engine.prefetch.get(name)
  if (known) return known
  const seen = new Set<string>()
  const out: DirectiveInfo[] = []
  const visit = (current: string): void => {
    const mod = engine.modules.get(current)
    if (!mod || seen.has(current)) return
    seen.add(current)
    for (const index of mod.meta.prefetch ?? []) {
      const info = mod.directives?.[index]
      if (info) out.push(info)
    }
    for (const dep of mod.meta.includes ?? []) visit(dep)
  }
  visit(name)
  engine.prefetch.set(name, out)
  return out
}
