/**
 * The local stand-in of each built-in vendor adapter, by adapter name: what
 * the demo starts for a vendor whose secret is unset. Each answers the
 * environment that points the adapter's `fromEnv` at the running stub, with
 * fresh random credentials (or the testing kit's canaries), so the adapter is
 * configured exactly as a real vendor would be.
 */
import { randomBytes } from 'node:crypto'
import { startCarameloStub } from './caramelo.ts'
import { startReturningSdkStub } from './returning-sdk.ts'
import { startReturningStub } from './returning.ts'
import { carameloWitness, returningProxyWitness, returningSdkWitness, type StubWitness } from './witness.ts'

type Env = Readonly<Record<string, string | undefined>>

/** A running stub and the environment that configures its adapter. */
export interface LocalVendor {
  /** Variables to lay over the app's environment for the adapter's `fromEnv`. */
  env: Record<string, string>
  /** Where it listens, for the start-up log line. */
  url: string
  /** What it minted and received, and where its tokens go: what the testing kit checks. */
  witness: StubWitness
  close(): Promise<void>
}

/** How to start a local stub. */
export interface LocalVendorOptions {
  /**
   * The value to use for each of the adapter's `secretEnvNames` (`{ WIDGET_API_KEY: '…' }`), for a test that
   * must know them (the testing kit's canaries); unset: fresh random ones.
   */
  secrets?: Readonly<Record<string, string>>
}

/**
 * Starts one stub; `env` is the app's environment (for ids the app chose, such as `WIDGET_COMMUNITY_ID`).
 * An app's own adapter can bring one too, for the testing kit: it must use `options.secrets`.
 */
export type LocalVendorStarter = (env: Env, options?: LocalVendorOptions) => Promise<LocalVendor>

/** The caller's value for the secret variable `name`, else a fresh random one. */
const secret = (name: string, options: LocalVendorOptions | undefined): string =>
  options?.secrets?.[name] ?? randomBytes(24).toString('base64url')
const community = (env: Env): string => env['WIDGET_COMMUNITY_ID'] || 'demo-community'

/** By adapter name (`returning-proxy`); every built-in adapter has one (a unit test checks). */
export const LOCAL_VENDORS: Readonly<Record<string, LocalVendorStarter>> = {
  'returning-proxy': async (env, options) => {
    const apiKey = secret('WIDGET_API_KEY', options)
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
      witness: returningProxyWitness(stub),
      close: () => stub.close(),
    }
  },
  'returning-sdk': async (env, options) => {
    const accessId = `demo-access-${randomBytes(4).toString('hex')}`
    const accessKey = secret('RAI_ACCESS_KEY', options)
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
      witness: returningSdkWitness(stub),
      close: () => stub.close(),
    }
  },
  caramelo: async (env, options) => {
    const secretToken = secret('CARAMELO_SECRET_TOKEN', options)
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
      witness: carameloWitness(stub),
      close: () => stub.close(),
    }
  },
}
