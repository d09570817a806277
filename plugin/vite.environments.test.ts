/**
 * The Vite plugin done the way Vite's own plugins do it (issue 13): each
 * environment gets only its part (`applyToEnvironment`), hooks carry filters,
 * the server environment is the one the user names or the config has —
 * never assumed to be `ssr` —, and a client import is resolved once.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  createServer,
  isRunnableDevEnvironment,
  resolveConfig,
  type InlineConfig,
  type Plugin,
  type ViteDevServer,
} from 'vite'
import { PLUGIN_NAME } from './dev-protocol.ts'
import { fixtureConfig, makeFixture, rejection, removeFixture } from './guards/test-helpers.ts'
import { viteTemplates } from './runtime/koa/templates.ts'
import { renderPage } from './runtime/render/render.ts'
import { TEST_NONCE, testRuntime } from './runtime/test-helpers.ts'
import { TEMPLATES_ID } from './template-module.ts'
import { clientGuardsPlugin } from './vite-client-guards.ts'
import type { EmbedsPluginOptions } from './vite-options.ts'
import { RESOLVED_TEMPLATES_ID, type PluginState } from './vite-state.ts'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function devServer(
  options: EmbedsPluginOptions = {},
  config: InlineConfig = {},
  files: Record<string, string> = {},
): Promise<ViteDevServer> {
  const root = await makeFixture(files)
  cleanups.push(() => removeFixture(root))
  const vite = await createServer(
    fixtureConfig(root, options, { server: { middlewareMode: true, ws: false }, appType: 'custom', ...config }),
  )
  cleanups.push(() => vite.close())
  return vite
}

/** The names of the plugin's parts an environment runs. */
function partsOf(vite: ViteDevServer, environment: string): string[] {
  return (vite.environments[environment]?.plugins ?? [])
    .map((plugin) => plugin.name)
    .filter((name) => name.startsWith(PLUGIN_NAME))
}

type Filter = RegExp | readonly RegExp[] | { include?: RegExp | readonly RegExp[] }
/** Whether a hook's `filter.id` lets `id` through. */
function passes(filter: Filter | undefined, id: string): boolean {
  if (!filter) throw new Error('the hook has no filter')
  const include = filter instanceof RegExp || Array.isArray(filter) ? filter : (filter as { include?: Filter }).include
  const list = (Array.isArray(include) ? include : [include]) as RegExp[]
  return list.some((re) => new RegExp(re.source, re.flags).test(id))
}

describe('applyToEnvironment: each environment gets its part', () => {
  it('compiles templates in the server environment only, guards client code in the client only', async () => {
    const vite = await devServer()
    expect(partsOf(vite, 'ssr')).toEqual([`${PLUGIN_NAME}:templates`])
    expect(partsOf(vite, 'client')).toEqual([`${PLUGIN_NAME}:client-guards`])
  })

  it('gives its template hooks filters: the virtual module exactly, .eta files with or without a query', async () => {
    const vite = await devServer()
    const templates = vite.environments['ssr']?.plugins.find((p) => p.name === `${PLUGIN_NAME}:templates`) as Plugin
    const filterOf = (hook: unknown): Filter | undefined => (hook as { filter?: { id?: Filter } }).filter?.id

    expect(passes(filterOf(templates.resolveId), TEMPLATES_ID)).toBe(true)
    expect(passes(filterOf(templates.resolveId), `${TEMPLATES_ID}2`)).toBe(false)
    expect(passes(filterOf(templates.resolveId), `x${TEMPLATES_ID}`)).toBe(false)
    expect(passes(filterOf(templates.load), RESOLVED_TEMPLATES_ID)).toBe(true)
    expect(passes(filterOf(templates.load), TEMPLATES_ID)).toBe(false)
    for (const id of ['/app/templates/home.eta', '/app/templates/home.eta?t=1700000000000']) {
      expect(passes(filterOf(templates.transform), id)).toBe(true)
    }
    for (const id of ['/app/client/main.ts', '/app/home.eta.ts', '/app/eta']) {
      expect(passes(filterOf(templates.transform), id)).toBe(false)
    }
  })

  it('runs the templates module through the environment the options name', async () => {
    const vite = await devServer({ environment: 'server' }, { environments: { server: {} } })
    expect(partsOf(vite, 'server')).toEqual([`${PLUGIN_NAME}:templates`])
    // Vite's own `ssr` is still there in dev, and gets nothing of the plugin's.
    expect(partsOf(vite, 'ssr')).toEqual([])
    const templates = await viteTemplates(vite)()
    expect(Object.keys(templates)).toEqual(['home'])
    const ssr = vite.environments['ssr']
    if (!isRunnableDevEnvironment(ssr)) throw new Error('the ssr environment is not runnable')
    await expect(ssr.runner.import(TEMPLATES_ID)).rejects.toThrow()
  })

  it('finds the one server environment of the config without being told', async () => {
    const vite = await devServer({}, { environments: { worker: { consumer: 'server' } } })
    expect(partsOf(vite, 'worker')).toEqual([`${PLUGIN_NAME}:templates`])
    expect(Object.keys(await viteTemplates(vite)())).toEqual(['home'])
  })

  it('asks which one when the config has several server environments', async () => {
    const root = await makeFixture()
    cleanups.push(() => removeFixture(root))
    const config = fixtureConfig(root, {}, { environments: { rsc: {}, edge: { consumer: 'server' } } })
    const { message } = await rejection(resolveConfig(config, 'serve'))
    expect(message).toBe(
      'options.environment must name the environment that renders the templates: the config has several server environments (rsc, edge)',
    )
  })

  it('refuses a client environment as the templates environment', async () => {
    const root = await makeFixture()
    cleanups.push(() => removeFixture(root))
    await expect(resolveConfig(fixtureConfig(root, { environment: 'client' }), 'serve')).rejects.toThrow(
      "options.environment 'client' must be a server environment of the config",
    )
  })
})

describe('a render error on the dev server', () => {
  it("names the author's line in the partial, and the include, through the module runner", async () => {
    const vite = await devServer(
      {},
      {},
      {
        'templates/home.eta': "<main>\n  <%~ include('partials/card') %>\n</main>\n",
        'templates/partials/card.eta': '<p>\n  <%= it.user.profile.city %>\n</p>\n',
      },
    )
    const runtime = testRuntime({ logger: { warn: () => {}, info: () => {} } })
    cleanups.push(() => runtime.close())
    const page = { user: undefined, nonce: TEST_NONCE, acceptLanguage: undefined }
    const rendering = renderPage(runtime, await viteTemplates(vite)(), 'home', { user: {} }, page)
    await expect(rendering).rejects.toMatchObject({
      code: 'ERR_TEMPLATE_RUNTIME',
      loc: { file: 'templates/partials/card.eta', line: 2, column: 23 },
      via: ['templates/home.eta:2:7'],
      frame: expect.stringContaining('> 2 |   <%= it.user.profile.city %>'),
    })
  })
})

describe('client imports: one resolution each', () => {
  /** The client guards' resolveId, called the way Vite calls it, with a `this.resolve` that counts. */
  function guardCall(mode: 'dev' | 'build' | 'scan', source: string) {
    const state = {
      config: { root: '/app' },
      privateDirs: { server: ['/app/server'], output: ['/app/dist'], virtualIds: [RESOLVED_TEMPLATES_ID] },
    } as unknown as PluginState
    const hook = clientGuardsPlugin(state).resolveId as (...args: unknown[]) => Promise<unknown>
    const resolve = vi.fn((s: string) => Promise.resolve({ id: `/app/client/${s.replace('./', '')}`, external: false }))
    const context = {
      environment: { mode },
      resolve,
      error: (message: string) => {
        throw new Error(message)
      },
    }
    const result = hook.call(context, source, '/app/client/main.ts', { kind: 'import-statement', isEntry: false })
    return { result, resolve }
  }

  it.each(['dev', 'build'] as const)('resolves an import once in %s, to hand on what Vite found', async (mode) => {
    const { result, resolve } = guardCall(mode, './util.ts')
    await expect(result).resolves.toEqual({ id: '/app/client/util.ts', external: false })
    expect(resolve).toHaveBeenCalledOnce()
  })

  it("leaves Vite's dependency scan to Vite: no second resolution of the same import", async () => {
    const { result, resolve } = guardCall('scan', './util.ts')
    await expect(result).resolves.toBeUndefined()
    expect(resolve).not.toHaveBeenCalled()
  })

  it('keeps the scan out of a server folder without resolving anything', async () => {
    const { result, resolve } = guardCall('scan', '../server/db.ts')
    await expect(result).resolves.toEqual({ id: '/app/server/db.ts', external: true })
    expect(resolve).not.toHaveBeenCalled()
  })

  it('still refuses a server-only module by name in the scan', async () => {
    const { result } = guardCall('scan', TEMPLATES_ID)
    await expect(result).rejects.toThrow(`server-only module ${TEMPLATES_ID} imported from client code`)
  })
})
