/**
 * `vite-plugin-eta-embeds` — the Vite plugin that compiles Eta templates with
 * `<<widget>>` and `<<caramelo>>` directives into server modules.
 */
export { etaEmbeds, etaEmbeds as default, TEMPLATES_ID, type EtaEmbedsPluginOptions } from './vite.ts'
export { compileTemplate, type CompileResult, type DirectiveInfo } from './compiler/codegen.ts'
export { CompileError, EmbedsError } from './errors.ts'
