// The readiness route (option readinessUrl), in-process with real sockets: 503 before the
// process is ready, 200 while it serves, 503 once it drains (on a kept-alive connection, the
// only way a draining process is still reached), for the Fastify plugin and the node adapter.
import http from 'node:http'
import net from 'node:net'
import Fastify from 'fastify'
import t from 'tap'
import hotRestart from '../../lib/index'
import { hotRestart as nodeHotRestart } from '../../lib/node'
import { request } from '../helpers/http'

const quiet = { info () {}, warn () {}, error () {} }

t.test('readinessUrl is validated', async t => {
  for (const bad of ['ready', '/ready?x=1', '/a b', 3, '']) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(hotRestart, { readinessUrl: bad as string }) }, { code: 'FST_HOT_RESTART_INVALID_OPTION', message: /Expected `readinessUrl` to be a path such as "\/ready"/ }, String(bad))
  }
  t.throws(() => nodeHotRestart(net.createServer(), { readinessUrl: '/ready', logger: quiet }), { code: 'FST_HOT_RESTART_INVALID_OPTION', message: /`readinessUrl` to go with a node:http or node:https server, got Server/ })
})

t.test('Fastify: 503 before ready, 200 while serving', async t => {
  const app = Fastify()
  await app.register(hotRestart, { readinessUrl: '/ready', closeWithGrace: false })
  const booting = await app.inject('/ready')
  t.equal(booting.statusCode, 503)
  t.match(booting.json(), { ready: false, state: 'booting', generation: 1, pid: process.pid })
  await app.listen({ port: 0, host: '127.0.0.1' })
  await new Promise(resolve => setImmediate(resolve)) // ready once the onListen hooks ran
  const serving = await request((app.server.address() as net.AddressInfo).port, '/ready')
  t.equal(serving.status, 200)
  t.equal(serving.headers['cache-control'], 'no-store')
  t.same(serving.body, { ready: true, state: 'serving', generation: 1, pid: process.pid })
  await app.close()
})

t.test('node:http: the app answers its own routes; 200 while serving, 503 once draining', async t => {
  const handler = (_req: http.IncomingMessage, res: http.ServerResponse): void => { res.end('{"app":true}') }
  const server = http.createServer(handler)
  // closeSpread 0: every response in the drain says Connection: close at once (with the default
  // window, this connection's moment could come after the request below)
  const hr = nodeHotRestart(server, { readinessUrl: '/ready', closeWithGrace: false, closeSpread: 0, logger: quiet })
  const { port } = await hr.listen({ port: 0, host: '127.0.0.1' }) as net.AddressInfo
  await new Promise(resolve => setImmediate(resolve))
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  t.same((await request(port, '/', { agent })).body, { app: true })
  const serving = await request(port, '/ready?probe=1', { agent })
  t.equal(serving.status, 200)
  t.match(serving.body, { ready: true, state: 'serving' })
  const closing = hr.close()
  // the kept-alive connection is still open while the drain waits for it to be idle
  const draining = await request(port, '/ready', { agent })
  t.equal(draining.status, 503)
  t.match(draining.body, { ready: false, state: 'draining' })
  t.equal(draining.headers.connection, 'close')
  await closing
  const listeners = server.listeners('request')
  t.ok(listeners.includes(handler) && !listeners.some(l => l.name === 'dispatch'), 'the app\'s handler is given back')
})
