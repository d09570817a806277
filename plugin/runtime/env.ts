/**
 * Reads the SPEC's fixed environment names into runtime options, so an app
 * configures both vendors the same way the demo does.
 */
import { WIDGET_TYPES, type WidgetType } from '../directives.ts'
import type { CarameloOptions, ReturningOptions } from './options.ts'

type Env = Record<string, string | undefined>

/** Returning.AI options from `WIDGET_*`, or `undefined` when `WIDGET_API_KEY` is unset. */
export function returningFromEnv(env: Env): ReturningOptions | undefined {
  if (!env['WIDGET_API_KEY']) return undefined
  const type = env['WIDGET_TYPE'] || 'store'
  if (!(WIDGET_TYPES as readonly string[]).includes(type)) {
    throw new TypeError(`WIDGET_TYPE must be one of ${WIDGET_TYPES.join(', ')}, got '${type}'`)
  }
  if (!env['WIDGET_COMMUNITY_ID']) throw new TypeError('WIDGET_COMMUNITY_ID is required when WIDGET_API_KEY is set')
  return {
    baseUrl: env['WIDGET_BASE_URL'] || undefined,
    apiKey: env['WIDGET_API_KEY'],
    communityId: env['WIDGET_COMMUNITY_ID'],
    widgetType: type as WidgetType,
    widgetId: env['WIDGET_ID'] || undefined,
  }
}

/** Caramelo AI options from `CARAMELO_*`, or `undefined` when `CARAMELO_SECRET_TOKEN` is unset. */
export function carameloFromEnv(env: Env): CarameloOptions | undefined {
  if (!env['CARAMELO_SECRET_TOKEN']) return undefined
  return {
    apiUrl: env['CARAMELO_API_URL'] || undefined,
    sdkUrl: env['CARAMELO_SDK_URL'] || undefined,
    projectId: env['CARAMELO_PROJECT_ID'] || undefined,
    secretToken: env['CARAMELO_SECRET_TOKEN'],
  }
}
