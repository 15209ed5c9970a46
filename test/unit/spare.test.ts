// A hot standby's spare on its own side (lib/spare.ts), in-process: an upgrader under a faked
// supervisor, real servers. Its listens wait until every app has asked to listen; it stands by;
// on `go` they listen and it says ready. With real processes: test/e2e/supervisor-standby.test.ts.
import dgram from 'node:dgram'
import { once } from 'node:events'
import http from 'node:http'
import t from 'tap'
import { resolveOptions } from '../../lib/options'
import { STANDBY_ENV, SUPERVISOR_ENV } from '../../lib/protocol'
import { Upgrader, type Logger } from '../../lib/upgrader'
import { fakeSelf } from '../helpers/fake-process'

type Line = { level: string, obj: Record<string, unknown>, msg: string }
function logger (): Logger & { lines: Line[] } {
  const lines: Line[] = []
  const at = (level: string) => (obj: object, msg: string) => { lines.push({ level, obj: obj as Record<string, unknown>, msg }) }
  return { lines, info: at('info'), warn: at('warn'), error: at('error') }
}

const tick = (): Promise<void> => new Promise(resolve => setImmediate(resolve))

t.test('a spare parks every listen until every app has asked; on go they listen and it says ready', async t => {
  const self = fakeSelf({ env: { [SUPERVISOR_ENV]: '4242', [STANDBY_ENV]: '1' }, parent: 4242 })
  const log = logger()
  const upgrader = new Upgrader(resolveOptions({ connectionHandover: false }), log, self)
  t.teardown(() => upgrader.dispose())
  t.equal(self.proc.env[STANDBY_ENV], undefined, 'the variable is gone: the app\'s own children do not see it')
  const server = http.createServer((_req, res) => { res.end('ok') })
  const app = upgrader.addParticipant({ name: 'app', server, close: () => new Promise(resolve => { server.close(() => resolve()) }) })
  const admin = http.createServer()
  const adminApp = upgrader.addParticipant({ name: 'admin', server: admin, close: () => new Promise(resolve => { admin.close(() => resolve()) }) })
  const udp = dgram.createSocket('udp4')
  t.teardown(() => { server.close(); admin.close(); udp.close() })
  const opening = upgrader.openSocket('metrics', udp, { port: 0, address: '127.0.0.1' })

  self.receive({ hotRestart: 'something-else' }) // another message: ignored
  self.receive({ not: 'ours' })
  server.listen(0, '127.0.0.1', () => app.listening())
  await tick()
  t.equal(server.listening, false, 'parked: nothing accepts')
  t.same(self.sentUp.map(m => m.hotRestart), [], 'not standing by: an app has not asked yet')
  admin.listen(0, '127.0.0.1', () => adminApp.listening())
  t.same(self.sentUp.map(m => m.hotRestart), ['standing-by'], 'every app has asked: standing by')
  t.match(log.lines.find(l => l.obj.event === 'standby.waiting'), { obj: { generation: 1, bootMs: Number } })
  t.equal(upgrader.state, 'booting')

  self.receive({ hotRestart: 'go' })
  await once(server, 'listening')
  await opening
  while (upgrader.state === 'booting') await tick()
  t.equal(upgrader.state, 'serving')
  t.same(self.sentUp.map(m => m.hotRestart).filter(m => m !== 'socket'), ['standing-by', 'ready'])
  t.match(log.lines.find(l => l.obj.event === 'standby.taking-over'), { obj: { listens: 3 } })
  const { port } = server.address() as { port: number }
  const res = await fetch(`http://127.0.0.1:${port}/`)
  t.equal(await res.text(), 'ok')

  // a second go changes nothing
  self.receive({ hotRestart: 'go' })
  t.equal(log.lines.filter(l => l.obj.event === 'standby.taking-over').length, 1)
})

t.test('not a spare: listens at once', async t => {
  const self = fakeSelf({ env: { [SUPERVISOR_ENV]: '4242' }, parent: 4242 })
  const upgrader = new Upgrader(resolveOptions({ connectionHandover: false }), logger(), self)
  t.teardown(() => upgrader.dispose())
  const server = http.createServer()
  t.teardown(() => server.close())
  upgrader.addParticipant({ name: 'app', server, close: async () => {} })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.equal(upgrader.sockets.park, undefined)
})

t.test('a spare shut down while it waits: the parked listens never run', async t => {
  const self = fakeSelf({ env: { [SUPERVISOR_ENV]: '4242', [STANDBY_ENV]: '1' }, parent: 4242 })
  const upgrader = new Upgrader(resolveOptions({ connectionHandover: false }), logger(), self)
  const server = http.createServer()
  const closed: string[] = []
  upgrader.addParticipant({ name: 'app', close: async () => { closed.push('app') } })
  server.listen(0, '127.0.0.1')
  t.same(self.sentUp.map(m => m.hotRestart), ['standing-by'], 'an app whose server is not known: any listen will do')
  await upgrader.shutdown()
  t.same(closed, ['app'])
  t.equal(upgrader.sockets.park, undefined, 'disposed of')
  t.equal(server.listening, false)
})
