/**
 * `vite-plugin-eta-embeds/runtime` — what a Koa server uses at request time:
 * the middleware, the vendors it can call, and where compiled templates come from.
 */
export { embeds, type EmbedsMiddleware, type EmbedsMiddlewareOptions, type StreamMode } from './koa/middleware.ts'
export type { MetricsRouteOptions } from './koa/metrics-route.ts'
export type {
  BreakerOptions,
  EmbedsLogger,
  EmbedsOptions,
  LazyRateLimitOptions,
  SharedStateOptions,
} from './options.ts'
export { storeHealth, type StoreHealth } from './store/health.ts'
export { MemoryStore, type MemoryStoreOptions } from './store/memory.ts'
export { RedisStore, type RedisStoreOptions } from './store/redis.ts'
export { StoreUnavailableError, type SharedStore } from './store/store.ts'
export type { EmbedsMetrics, EmbedsMetricsSnapshot, MetricsOptions, MetricsRegistry } from './metrics.ts'
export type { TracingOptions } from './tracing.ts'
export { builtTemplates, viteTemplates } from './koa/templates.ts'
export { viteDev, type ViteDevOptions, type ViteDevTemplates } from './koa/vite-dev.ts'
export { renderErrorLogLine } from './render/render-error.ts'
export { returningProxy, type PageCacheOptions, type ReturningProxyOptions } from '../vendors/returning/proxy.ts'
export { returningSdk, type ReturningSdkOptions } from '../vendors/returning/sdk.ts'
export type { TokenReuseOptions } from '../vendors/returning/widget.ts'
export { caramelo, type CarameloOptions } from '../vendors/caramelo/index.ts'
export { vendorsFromEnv } from '../vendors/env.ts'
export * from '../vendors/public.ts'
export type { TemplateMap, TemplateModule } from '../template-module.ts'
export { CompileError, EmbedsError, RenderError, type RenderErrorLocation, type SourceLocation } from '../errors.ts'
