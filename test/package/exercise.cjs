'use strict'
// Used by the runtime consumers (runtime.cjs, runtime.mjs) that test/e2e/package.test.ts runs
// against the packed package: registers the plugin on a real Fastify app and gives the
// node:http adapter a real server, each answering one request on 127.0.0.1.
const assert = require('node:assert/strict')
const http = require('node:http')

/** Checks the shape of both entry points and uses them; resolves with their property names. */
async function exercise ({ Fastify, plugin, node }) {
  for (const entry of [plugin, node]) {
    assert.equal(typeof entry, 'function')
    assert.equal(entry.default, entry)
    assert.equal(entry.hotRestart, entry)
    assert.equal(new entry.InvalidOptionError('x').code, 'FST_HOT_RESTART_INVALID_OPTION')
  }

  const app = Fastify()
  await app.register(plugin, { closeWithGrace: false })
  app.get('/', async () => ({ generation: app.hotRestart.generation }))
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  assert.deepEqual(await (await fetch(url)).json(), { generation: 1 })
  await app.close()

  const server = http.createServer((_req, res) => { res.end('node') })
  const hr = node(server, { closeWithGrace: false, logger: { info () {}, warn () {}, error () {} } })
  const { port } = await hr.listen({ port: 0, host: '127.0.0.1' })
  assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'node')
  assert.equal(hr.generation, 1)
  await hr.close()

  return { plugin: Object.keys(plugin).sort(), node: Object.keys(node).sort() }
}

module.exports = exercise
