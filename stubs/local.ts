/**
 * The local stand-in of each built-in vendor adapter, by adapter name: what
 * the demo starts for a vendor whose secret is unset. Each answers the
 * environment that points the adapter's `fromEnv` at the running stub, with
 * fresh random credentials, so the adapter is configured exactly as a real
 * vendor would be.
 */
import { randomBytes } from 'node:crypto'
import { startCarameloStub } from './caramelo.ts'
import { startReturningSdkStub } from './returning-sdk.ts'
import { startReturningStub } from './returning.ts'

type Env = Readonly<Record<string, string | undefined>>

/** A running stub and the environment that configures its adapter. */
export interface LocalVendor {
  /** Variables to lay over the app's environment for the adapter's `fromEnv`. */
  env: Record<string, string>
  /** Where it listens, for the start-up log line. */
  url: string
  close(): Promise<void>
}

/** Starts one stub; `env` is the app's environment (for ids the app chose, such as `WIDGET_COMMUNITY_ID`). */
export type LocalVendorStarter = (env: Env) => Promise<LocalVendor>

const secret = (): string => randomBytes(24).toString('base64url')
const community = (env: Env): string => env['WIDGET_COMMUNITY_ID'] || 'demo-community'

/** By adapter name (`returning-proxy`); every built-in adapter has one (a unit test checks). */
export const LOCAL_VENDORS: Readonly<Record<string, LocalVendorStarter>> = {
  'returning-proxy': async (env) => {
    const apiKey = secret()
    const stub = await startReturningStub({ apiKey, communityId: community(env) })
    return {
      env: {
        WIDGET_BASE_URL: stub.url,
        WIDGET_API_KEY: apiKey,
        WIDGET_COMMUNITY_ID: community(env),
        WIDGET_TYPE: 'store',
        WIDGET_ID: env['WIDGET_ID'] || 'demo-store',
      },
      url: stub.url,
      close: () => stub.close(),
    }
  },
  'returning-sdk': async (env) => {
    const accessId = `demo-access-${randomBytes(4).toString('hex')}`
    const accessKey = secret()
    const stub = await startReturningSdkStub({ accessId, accessKey, communityId: community(env) })
    return {
      env: {
        RAI_V2_API_URL: stub.apiUrl,
        RAI_SDK_URL: stub.sdkUrl,
        RAI_ACCESS_ID: accessId,
        RAI_ACCESS_KEY: accessKey,
        WIDGET_COMMUNITY_ID: community(env),
        WIDGET_TYPE: 'store',
      },
      url: stub.apiUrl,
      close: () => stub.close(),
    }
  },
  caramelo: async (env) => {
    const secretToken = secret()
    const projectId = env['CARAMELO_PROJECT_ID'] || 'demo-project'
    const stub = await startCarameloStub({ secretToken, projectId })
    return {
      env: {
        CARAMELO_API_URL: stub.apiUrl,
        CARAMELO_SDK_URL: stub.sdkUrl,
        CARAMELO_SECRET_TOKEN: secretToken,
        CARAMELO_PROJECT_ID: projectId,
      },
      url: stub.apiUrl,
      close: () => stub.close(),
    }
  },
}
