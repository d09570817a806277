/**
 * The vendor stubs (Returning.AI's proxy and Widget SDK flows, Caramelo) in a
 * child process of their own, driven over IPC, for `npm run bench`. In the bench process they would share one event loop with
 * the load generator: every signin JWT the stub signs would delay the moment
 * autocannon sees a response, and show up as server latency. Apart, they get
 * their own core time, and /proc tells how much of it they used.
 *
 * `startVendors()` is the parent's side; run as a script, this file is the child.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { startCarameloStub, startReturningSdkStub, startReturningStub } from '../stubs/index.ts'

/** The stubs' fixed identities; secrets only this benchmark uses. */
export const VENDOR_IDS = {
  apiKey: 'bench-api-key-3f8c1d',
  communityId: 'bench-community',
  widgetId: 'bench-store',
  secretToken: 'bench-secret-token-9a2e47',
  projectId: 'bench-project',
  accessId: 'bench-access-id',
  accessKey: 'bench-access-key-c41b7e',
} as const

interface Ready {
  kind: 'ready'
  returningUrl: string
  returningSdkApiUrl: string
  returningSdkUrl: string
  carameloApiUrl: string
  carameloSdkUrl: string
}
/** One of the stubs, by the name its counts go by. */
export type StubName = keyof VendorCounts
type Request = { id: number; op: 'latency'; ms: number; only?: StubName } | { id: number; op: 'counts' }
interface Reply {
  kind: 'reply'
  id: number
  counts: VendorCounts
}

/** What each stub has done so far. */
export interface VendorCounts {
  /** Requests to the proxy flow's stub: sign-ins and widget pages. */
  returning: number
  /**
   * Embed tokens the Widget SDK stub minted: its token requests that succeeded
   * (no browser runs here, so nothing else reaches it).
   */
  returningSdk: number
  /** Requests to Caramelo's stub: intranet-auth. */
  caramelo: number
}

/** The stubs' process, seen from the bench. */
export interface Vendors {
  /** The child's pid, for /proc. */
  pid: number
  /** What `WIDGET_BASE_URL`, `RAI_V2_API_URL`, `RAI_SDK_URL`, `CARAMELO_API_URL` and `CARAMELO_SDK_URL` are set to. */
  returningUrl: string
  returningSdkApiUrl: string
  returningSdkUrl: string
  carameloApiUrl: string
  carameloSdkUrl: string
  /**
   * Sets every stub's delay before each sign-in, widget page, embed token and
   * intranet-auth answer; with `only`, that stub's alone.
   */
  setLatency(ms: number, only?: StubName): Promise<void>
  /** What each stub has done since it started. */
  counts(): Promise<VendorCounts>
  close(): Promise<void>
}

const IPC_TIMEOUT_MS = 10_000

/** Starts the stubs' process and resolves once every stub listens. */
export async function startVendors(): Promise<Vendors> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const ready = await nextMessage<Ready>(child, (m) => m.kind === 'ready')
  let nextId = 0
  const ask = (request: Request): Promise<Reply> => {
    const reply = nextMessage<Reply>(child, (m) => m.kind === 'reply' && m.id === request.id)
    child.send(request)
    return reply
  }
  return {
    pid: child.pid ?? 0,
    returningUrl: ready.returningUrl,
    returningSdkApiUrl: ready.returningSdkApiUrl,
    returningSdkUrl: ready.returningSdkUrl,
    carameloApiUrl: ready.carameloApiUrl,
    carameloSdkUrl: ready.carameloSdkUrl,
    setLatency: async (ms, only) => {
      await ask({ id: ++nextId, op: 'latency', ms, ...(only ? { only } : {}) })
    },
    counts: async () => (await ask({ id: ++nextId, op: 'counts' })).counts,
    close: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    },
  }
}

function nextMessage<T extends Ready | Reply>(child: ChildProcess, match: (m: Ready | Reply) => boolean): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error('the vendor stubs did not answer in 10 s')), IPC_TIMEOUT_MS)
    const onMessage = (message: Ready | Reply): void => {
      if (match(message)) done(undefined, message as T)
    }
    const onExit = (code: number | null): void => done(new Error(`the vendor stubs exited with ${code}`))
    function done(error: Error | undefined, value?: T): void {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
      if (error) reject(error)
      else resolve(value as T)
    }
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
}

async function runChild(): Promise<void> {
  const returning = await startReturningStub({ apiKey: VENDOR_IDS.apiKey, communityId: VENDOR_IDS.communityId })
  const sdk = await startReturningSdkStub({
    accessId: VENDOR_IDS.accessId,
    accessKey: VENDOR_IDS.accessKey,
    communityId: VENDOR_IDS.communityId,
  })
  const caramelo = await startCarameloStub({ secretToken: VENDOR_IDS.secretToken, projectId: VENDOR_IDS.projectId })
  const stubs = [returning, sdk, caramelo]
  const byName: Record<StubName, { setLatency(ms: number): void }> = { returning, returningSdk: sdk, caramelo }
  process.on('message', (request: Request) => {
    if (request.op === 'latency') {
      for (const stub of request.only ? [byName[request.only]] : stubs) stub.setLatency(request.ms)
    }
    const counts: VendorCounts = {
      returning: returning.received.length,
      returningSdk: sdk.minted.length,
      caramelo: caramelo.received.length,
    }
    process.send?.({ kind: 'reply', id: request.id, counts } satisfies Reply)
  })
  // The parent going away (a crash, a Ctrl-C) must not leave the stubs running.
  const closeAll = (): void => void Promise.all(stubs.map((stub) => stub.close())).then(() => process.exit(0))
  process.once('disconnect', closeAll)
  process.once('SIGTERM', closeAll)
  const ready: Ready = {
    kind: 'ready',
    returningUrl: returning.url,
    returningSdkApiUrl: sdk.apiUrl,
    returningSdkUrl: sdk.sdkUrl,
    carameloApiUrl: caramelo.apiUrl,
    carameloSdkUrl: caramelo.sdkUrl,
  }
  process.send?.(ready)
}

const isMain = process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url
if (isMain) await runChild()
