/**
 * What the plugin does when a template changes on a dev server (issue 9):
 * the browser reloads only once the file can be read, nothing compiled from
 * the emptied file of an in-place save survives, and the templates version
 * that error pages compare against moves with the reload.
 */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createServer, isRunnableDevEnvironment, type HotUpdateOptions, type ViteDevServer } from 'vite'
import { PLUGIN_NAME, type EtaEmbedsPluginApi } from './dev-protocol.ts'
import { fixtureConfig, makeFixture, removeFixture } from './guards/test-helpers.ts'
import { renderPage, type TemplateMap } from './runtime/render/render.ts'
import { deferred, TEST_NONCE, testRuntime } from './runtime/test-helpers.ts'
import { TEMPLATES_ID } from './template-module.ts'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A dev server without a file watcher: the test says when a file changed, as Vite would. */
async function devServer(files: Record<string, string>): Promise<{ vite: ViteDevServer; root: string }> {
  const root = await makeFixture(files)
  cleanups.push(() => removeFixture(root))
  const vite = await createServer(
    fixtureConfig(root, {}, { server: { middlewareMode: true, ws: false, watch: null }, appType: 'custom' }),
  )
  cleanups.push(() => vite.close())
  return { vite, root }
}

function ssrOf(vite: ViteDevServer) {
  const ssr = vite.environments['ssr']
  if (!isRunnableDevEnvironment(ssr)) throw new Error('the ssr environment is not runnable')
  return ssr
}

/** Renders `home` the way a request does: templates from the SSR runner. */
async function renderHome(vite: ViteDevServer): Promise<string> {
  const { default: templates } = await ssrOf(vite).runner.import<{ default: TemplateMap }>(TEMPLATES_ID)
  const runtime = testRuntime({ logger: { warn: () => {}, info: () => {} } })
  try {
    return await renderPage(
      runtime,
      templates,
      'home',
      {},
      { user: undefined, nonce: TEST_NONCE, acceptLanguage: undefined },
    )
  } finally {
    await runtime.close()
  }
}

/** Vite's handling of a watcher change for `file`, with `read` standing in for Vite's wait for the content. */
function fileChanged(vite: ViteDevServer, file: string, read: () => Promise<string>): Promise<unknown> {
  const ssr = ssrOf(vite)
  // The plugin hands its server environment a part of its own, which holds the hook.
  const hook = ssr.plugins.find((p) => p.name.startsWith(PLUGIN_NAME) && p.hotUpdate)?.hotUpdate
  if (!hook) throw new Error(`${PLUGIN_NAME} gave the ssr environment no hotUpdate hook`)
  const handler = typeof hook === 'function' ? hook : hook.handler
  // Vite invalidates the file's modules, then calls the environment's hotUpdate hooks.
  ssr.moduleGraph.onFileChange(file)
  const options: HotUpdateOptions = {
    type: 'update',
    file,
    timestamp: Date.now(),
    modules: [...(ssr.moduleGraph.getModulesByFile(file) ?? [])],
    read,
    server: vite,
  }
  return Promise.resolve(handler.call(ssr.pluginContainer.minimalContext, options))
}

describe('a template saved in place (emptied, then written)', () => {
  it('reloads the browser only once the content is there, and never from what was compiled empty', async () => {
    const { vite, root } = await devServer({ 'templates/home.eta': '<p>v1</p>' })
    const file = path.join(root, 'templates', 'home.eta')
    const api = vite.config.plugins.find((p) => p.name === PLUGIN_NAME)?.api as EtaEmbedsPluginApi
    const send = vi.spyOn(vite.environments['client'].hot, 'send')
    expect(await renderHome(vite)).toBe('<p>v1</p>')
    const version = api.templatesVersion()

    writeFileSync(file, '')
    const written = deferred<string>()
    const update = fileChanged(vite, file, () => written.promise)
    // A request while the file is empty compiles it so.
    expect((await ssrOf(vite).transformRequest('/templates/home.eta'))?.code).not.toContain('v2')
    expect(send).not.toHaveBeenCalled()
    expect(api.templatesVersion()).toBe(version)

    writeFileSync(file, '<p>v2</p>')
    written.resolve('<p>v2</p>')
    await update
    expect(send).toHaveBeenCalledExactlyOnceWith({ type: 'full-reload' })
    expect(api.templatesVersion()).toBe(version + 1)
    expect(await renderHome(vite)).toBe('<p>v2</p>')
  })
})
