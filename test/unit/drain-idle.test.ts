// The drain and kept-alive connections whose clients pause between requests: a request sent
// after a pause shorter than `idleGrace` is answered (with `Connection: close`), never met by a
// connection the drain closed under it; a connection idle past the grace is closed.
import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import t from 'tap'
import { drain, trackConnections } from '../../lib/drain'
import { askHead as ask } from '../helpers/raw-http'

t.test('a client that pauses within idleGrace is answered with Connection: close; one idle past it is closed', async t => {
  const server = http.createServer((_req, res) => res.end('ok'))
  const untrack = trackConnections(server)
  await once(server.listen(0, '127.0.0.1'), 'listening')
  t.teardown(() => { untrack(); server.close() })
  const port = (server.address() as net.AddressInfo).port
  const pausing = net.connect(port, '127.0.0.1')
  const idle = net.connect(port, '127.0.0.1')
  t.teardown(() => { pausing.destroy(); idle.destroy() })
  await Promise.all([once(pausing, 'connect'), once(idle, 'connect')])
  t.match(await ask(pausing), /^HTTP\/1\.1 200.*\r\nConnection: keep-alive/is)
  t.match(await ask(idle), /^HTTP\/1\.1 200/)

  const idleGrace = 1000
  const draining = drain([server], 10000, idleGrace)
  // a client's think time, longer than a short grace would allow, shorter than idleGrace
  await new Promise(resolve => setTimeout(resolve, 400))
  t.match(await ask(pausing), /^HTTP\/1\.1 200.*\r\nConnection: close/is, 'the request after the pause is answered, with Connection: close')
  const idleClosed = once(idle, 'close')
  const report = await draining
  await idleClosed
  t.equal(report.closedIdle, 1, 'the connection idle past the grace was closed')
  t.equal(report.forced, 0)
  t.ok(report.durationMs >= idleGrace - 5 && report.durationMs < 10000, `the drain ended after the grace (${report.durationMs} ms)`)
})

t.test('a connection that never sent a byte is closed after idleGrace like an idle one, not held until the deadline', async t => {
  const server = http.createServer((_req, res) => res.end('ok'))
  const untrack = trackConnections(server)
  await once(server.listen(0, '127.0.0.1'), 'listening')
  t.teardown(() => { untrack(); server.close() })
  const accepted = once(server, 'connection')
  const silent = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  t.teardown(() => silent.destroy())
  await Promise.all([once(silent, 'connect'), accepted])
  const closed = once(silent, 'close')
  const report = await drain([server], 10000, 300)
  await closed
  t.equal(report.closedIdle, 1, 'closed as idle')
  t.equal(report.forced, 0, 'not forced at the deadline')
  t.ok(report.durationMs < 10000, `the drain ended after the grace (${report.durationMs} ms), not at drainTimeout (10000 ms)`)
})
