// A generation told to stop while its predecessor still hands it connections (under `run`, a stop
// right after a reload), in-process: a real upgrader of generation 2 under a faked supervisor,
// serving a real inherited listening socket, and a connection handed over to it once its drain
// has closed that socket. The same with real processes: test/e2e/socket-activation.test.ts.
import { EventEmitter, once } from 'node:events'
import http from 'node:http'
import t from 'tap'
import { MANIFEST_VERSION } from '../../lib/manifest'
import { boundAddress, createServerHandle } from '../../lib/node-internals'
import { resolveOptions } from '../../lib/options'
import { MANIFEST_ENV, SUPERVISOR_ENV } from '../../lib/protocol'
import { Upgrader } from '../../lib/upgrader'
import { fakeLogger, fakeSelf } from '../helpers/fake-process'
import { foreignConnection } from '../helpers/raw-http'

t.test('a connection handed over after the drain has closed the listening socket is served by the drain, not reset', async t => {
  // the socket the supervisor holds, bound (not listening): the app's server listens on its fd,
  // which closes with that server (so this handle is never closed here)
  const held = createServerHandle('127.0.0.1', 0, 4)
  if (typeof held === 'number') throw new Error(`bind failed: ${held}`)
  const { port } = boundAddress(held) as { port: number }
  const entry = { fd: held.fd, kind: 'tcp', requested: { host: '127.0.0.1', port }, address: '127.0.0.1', port }
  const manifest = { version: MANIFEST_VERSION, pid: 4242, generation: 2, cwd: process.cwd(), sockets: [entry] }
  const self = fakeSelf({ env: { [SUPERVISOR_ENV]: '4242', [MANIFEST_ENV]: JSON.stringify(manifest) }, parent: 4242 })
  const log = fakeLogger()
  // no spread: the adopted connection's response says Connection: close at once
  const upgrader = new Upgrader(resolveOptions({ closeSpread: 0 }), log, self)
  t.teardown(() => upgrader.dispose())
  const server = http.createServer((_req, res) => res.end('adopted'))
  const app = upgrader.addParticipant({ name: 'app', close: () => new Promise<void>(resolve => server.close(() => resolve())) })
  await once(server.listen({ port, host: '127.0.0.1' }), 'listening')
  app.listening()
  t.equal(upgrader.state, 'serving')
  t.equal([...upgrader.sockets.listeners][0]?.inherited?.fd, held.fd, 'it serves the inherited socket')

  // the supervisor: the reload is ready (the previous generation drains towards this one), then a stop
  self.receive({ hotRestart: 'predecessor', pid: 4343 })
  self.receive({ hotRestart: 'shutdown', stopDelay: 0 })
  // the drain has stopped accepting: with no connection open, the server has closed
  await once(server, 'close')
  t.equal(upgrader.state, 'draining')

  // the previous generation's connection, its request not read yet, relayed by the supervisor
  const { socket, client } = await foreignConnection(t)
  client.write(client.get('/'))
  ;(self.proc as unknown as EventEmitter).emit('message', { hotRestart: 'connection', socket: `127.0.0.1:${port}` }, socket)
  const answered = await client.next().then(response => response, (err: Error) => err)
  t.match(answered, { status: 200, body: 'adopted', headers: { connection: 'close' } }, 'its request is answered, with Connection: close')
  const { socket: straySocket, client: stray } = await foreignConnection(t)
  ;(self.proc as unknown as EventEmitter).emit('message', { hotRestart: 'connection', socket: '127.0.0.1:1' }, straySocket)
  if (!stray.closed) await once(stray.socket, 'close')
  t.ok(stray.closed, 'one for a socket that no server here served is closed')

  // the previous generation has exited: the drain ends, the process exits
  self.receive({ hotRestart: 'predecessor-exited' })
  t.equal(await self.exited(), 0)
  t.match(log.lines.find(l => l.obj.event === 'exit'), { obj: { hotRestart: { reason: 'shutdown', forced: 0 } } })
})
