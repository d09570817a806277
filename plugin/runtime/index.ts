/**
 * `vite-plugin-eta-embeds/runtime` — what a Koa server uses at request time.
 * Compiled templates only ever talk to the object this runtime passes them.
 */
export { etaEmbeds, type EmbedsMiddleware, type KoaEmbedsOptions } from './koa.ts'
export type { EmbedsMetrics, EmbedsMetricsSnapshot } from './metrics.ts'
export type { BreakerOptions, TokenReuseOptions, WidgetPageCacheOptions } from './state.ts'
export { renderPage, type PageContext, type TemplateMap, type TemplateModule } from './render.ts'
export {
  resolveOptions,
  type CarameloOptions,
  type EmbedsLogger,
  type EmbedsOptions,
  type ResolvedEmbedsOptions,
  type ReturningOptions,
} from './options.ts'
export { carameloFromEnv, returningFromEnv } from './env.ts'
export { builtTemplates, viteTemplates, viteTemplatesVersion } from './templates.ts'
export { errorOverlayPage } from './dev-errors.ts'
export type { EmbedsUser } from './user.ts'
export { CompileError, EmbedsError, RenderError, VendorError } from '../errors.ts'
