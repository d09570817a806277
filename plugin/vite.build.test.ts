/**
 * `vite build` with the plugin (issue 13): the plugin takes part in the app
 * build through Vite's `buildApp` hook instead of replacing `builder`, so
 * plain `vite build`, `vite build --app` and a config with its own builder all
 * build the client and the templates, each once; the server build carries
 * the source map that locates a render error at the author's line.
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { createBuilder, type InlineConfig, type Plugin } from 'vite'
import { fixtureConfig, fixturePerTest } from './guards/test-helpers.ts'
import { RenderError } from './errors.ts'
import { renderErrorLogLine } from './runtime/render/render-error.ts'
import { renderPage } from './runtime/render/render.ts'
import { TEST_NONCE, testRuntime } from './runtime/test-helpers.ts'
import type { TemplateMap } from './template-module.ts'
import { etaEmbeds } from './vite.ts'

const fixture = fixturePerTest()

/** A plugin that records which environment each build was for. */
function buildRecorder(): { plugin: Plugin; builds: string[] } {
  const builds: string[] = []
  return {
    builds,
    plugin: {
      name: 'record-builds',
      buildStart() {
        builds.push(this.environment.name)
      },
    },
  }
}

/**
 * `vite build` as the CLI runs it: `createBuilder(config, null)` — the legacy
 * single-environment build unless the config has a `builder` (`--app` adds `builder: {}`).
 */
async function viteBuild(config: InlineConfig): Promise<void> {
  const builder = await createBuilder(config, null)
  await builder.buildApp()
}

const outputs = (root: string) => ({
  client: existsSync(path.join(root, 'dist/client/assets')),
  templates: existsSync(path.join(root, 'dist/server/templates.js')),
  map: existsSync(path.join(root, 'dist/server/templates.js.map')),
})

describe('vite build', () => {
  it.each([
    ['vite build', {}],
    ['vite build --app', { builder: {} }],
  ])('%s builds the client and the templates with their source map, each once', async (_command, extra) => {
    const root = await fixture()
    const { plugin, builds } = buildRecorder()
    await viteBuild(fixtureConfig(root, {}, { ...extra, plugins: [plugin] }))
    expect(outputs(root)).toEqual({ client: true, templates: true, map: true })
    expect(builds).toEqual(['client', 'ssr'])
  })

  it("keeps a config's own builder: what it builds is built once, the templates after it", async () => {
    const root = await fixture()
    const { plugin, builds } = buildRecorder()
    const builder = {
      buildApp: async (b: { environments: Record<string, unknown>; build: (e: never) => Promise<unknown> }) => {
        await b.build(b.environments['client'] as never)
      },
    }
    await viteBuild(fixtureConfig(root, {}, { builder, plugins: [plugin] }))
    expect(builds).toEqual(['client', 'ssr'])
    expect(outputs(root)).toEqual({ client: true, templates: true, map: true })
  })

  it('builds nothing twice when the config builds everything itself', async () => {
    const root = await fixture()
    const { plugin, builds } = buildRecorder()
    const builder = {
      buildApp: async (b: { environments: Record<string, unknown>; build: (e: never) => Promise<unknown> }) => {
        await Promise.all(Object.values(b.environments).map((e) => b.build(e as never)))
      },
    }
    await viteBuild(fixtureConfig(root, {}, { builder, plugins: [plugin] }))
    expect([...builds].sort()).toEqual(['client', 'ssr'])
  })

  it('builds only the templates of an app with no client input', async () => {
    const root = await fixture()
    const { plugin, builds } = buildRecorder()
    await viteBuild({ root, configFile: false, logLevel: 'silent', plugins: [etaEmbeds(), plugin] })
    expect(builds).toEqual(['ssr'])
    expect(outputs(root)).toEqual({ client: false, templates: true, map: true })
  })

  it('builds the templates in the environment the options name, into ssrOutDir', async () => {
    const root = await fixture()
    const { plugin, builds } = buildRecorder()
    const config = fixtureConfig(root, { environment: 'server', ssrOutDir: 'dist/app' }, { plugins: [plugin] })
    await viteBuild({ ...config, environments: { ...config.environments, server: {} } })
    expect(builds).toEqual(['client', 'server'])
    expect(existsSync(path.join(root, 'dist/app/templates.js'))).toBe(true)
  })

  it('leaves source maps out when the config says so', async () => {
    const root = await fixture()
    await viteBuild(fixtureConfig(root, {}, { build: { sourcemap: false } }))
    expect(outputs(root)).toEqual({ client: true, templates: true, map: false })
  })
})

describe('a render error in the server build', () => {
  it('is located at the template line through the bundle and its source map', async () => {
    const card = '<section>\n  <p><%= it.user.profile.city %></p>\n</section>\n'
    const root = await fixture({
      'templates/home.eta': "<% layout('layout') %>\n<main>\n<%~ include('partials/card') %>\n</main>\n",
      'templates/layout.eta': '<body><%~ it.body %></body>\n',
      'templates/partials/card.eta': card,
    })
    await viteBuild(fixtureConfig(root))
    const href = pathToFileURL(path.join(root, 'dist/server/templates.js')).href
    const { default: templates } = (await import(href)) as { default: TemplateMap }
    const runtime = testRuntime({ logger: { warn: () => {}, info: () => {} } })
    const page = { user: undefined, nonce: TEST_NONCE, acceptLanguage: undefined }
    const error = await renderPage(runtime, templates, 'home', { user: {} }, page).then(
      () => undefined,
      (e: unknown) => e,
    )
    await runtime.close()

    expect(error).toBeInstanceOf(RenderError)
    expect(error).toMatchObject({
      code: 'ERR_TEMPLATE_RUNTIME',
      loc: { file: 'templates/partials/card.eta', line: 2, column: 26 },
      via: ['templates/home.eta:3:5'],
    })
    expect((error as RenderError).frame).toContain('> 2 |   <p><%= it.user.profile.city %></p>')
    expect(renderErrorLogLine(error)).toBe(
      'render failed: TypeError at templates/partials/card.eta:2:26 (via templates/home.eta:3:5)',
    )
  })
})
