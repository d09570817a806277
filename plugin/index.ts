/**
 * `vite-plugin-eta-embeds` — the Vite plugin that compiles Eta templates with
 * vendor directives (`<<widget>>`, `<<caramelo>>`, and the app's own) into
 * server modules.
 */
export { etaEmbeds, etaEmbeds as default, type EmbedsPluginOptions } from './vite.ts'
export { TEMPLATES_ID } from './template-module.ts'
export * from './vendors/public.ts'
export { CompileError, EmbedsError } from './errors.ts'
