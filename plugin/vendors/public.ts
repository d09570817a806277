/**
 * The interface for writing a vendor adapter, the same from both entries:
 * the Vite plugin takes adapters for their vocabulary, the runtime takes them
 * configured for their flows.
 */
export {
  defineVendor,
  type AnyVendorAdapter,
  type AttributeRule,
  type ConfiguredVendor,
  type Embed,
  type EmbedRequest,
  type EmbedsUser,
  type Env,
  type LazyDocument,
  type SlotSize,
  type VendorAdapter,
  type VendorDefinition,
  type VendorHttpRequest,
  type VendorServices,
} from './define.ts'
export { identifier, languageTag, matches, oneOf, partialName, pixels, text } from './rules.ts'
export type { VendorAnswer } from '../runtime/http/request.ts'
export { escapeHtml, jsonForScript } from '../runtime/encode.ts'
export { VendorError, type VendorErrorCode } from '../errors.ts'
