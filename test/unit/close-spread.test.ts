// The spread of the drain's closes (lib/close-spread.ts), in-process: a connection is served as
// usual until its own moment in the window, then answered with `Connection: close` and closed
// once idle; the moments are drawn uniformly; moments still to come when the drain ends are
// cancelled. Math.random is stubbed where a test needs to know a moment.
import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import t, { type Test } from 'tap'
import { CloseSpread } from '../../lib/close-spread'
import { drain, trackConnections } from '../../lib/drain'
import { askHead as ask } from '../helpers/raw-http'

async function serve (t: Test, handler: http.RequestListener = (_req, res) => res.end('ok')) {
  const server = http.createServer(handler)
  const untrack = trackConnections(server)
  await once(server.listen(0, '127.0.0.1'), 'listening')
  t.teardown(() => { untrack(); server.close() })
  const port = (server.address() as net.AddressInfo).port
  const open = async (): Promise<net.Socket> => {
    const socket = net.connect(port, '127.0.0.1')
    t.teardown(() => socket.destroy())
    await once(socket, 'connect')
    return socket
  }
  return { server, open }
}

t.test('until its moment a connection is kept alive; from then on its next response says Connection: close, and it is closed once idle', async t => {
  const { server, open } = await serve(t)
  const socket = await open()
  t.match(await ask(socket), /\r\nConnection: keep-alive/i)
  const random = t.capture(Math, 'random', () => 0.5)
  const started = performance.now()
  const draining = drain([server], 10000, 200, undefined, 1000)
  t.equal(random.args().length, 1, 'one moment drawn for the one connection')
  t.match(await ask(socket), /^HTTP\/1\.1 200.*\r\nConnection: keep-alive/is, 'before its moment (500 ms): kept alive')
  await new Promise(resolve => setTimeout(resolve, 600 - (performance.now() - started)))
  t.match(await ask(socket), /^HTTP\/1\.1 200.*\r\nConnection: close/is, 'after it: Connection: close')
  const report = await draining
  t.ok(report.durationMs >= 500, `the drain lasted past the moment (${report.durationMs} ms)`)
  t.equal(report.forced, 0)
})

t.test('a response in progress at its moment says Connection: close; an idle connection is closed idleGrace after its moment', async t => {
  let answer: (() => void) | undefined
  const { server, open } = await serve(t, (req, res) => {
    if (req.url === '/wait') answer = () => res.end('ok')
    else res.end('ok')
  })
  const busy = await open()
  const idle = await open()
  t.match(await ask(idle), /^HTTP\/1\.1 200/)
  busy.write('GET /wait HTTP/1.1\r\nHost: x\r\n\r\n')
  while (answer === undefined) await new Promise(resolve => setTimeout(resolve, 5))
  t.capture(Math, 'random', () => 0.3)
  const started = performance.now()
  const draining = drain([server], 10000, 200, undefined, 1000)
  const idleClosed = once(idle, 'close').then(() => performance.now() - started)
  const head = new Promise<string>(resolve => busy.once('data', chunk => resolve(String(chunk))))
  await new Promise(resolve => setTimeout(resolve, 400))
  answer()
  t.match(await head, /\r\nConnection: close/i, 'the response in flight, written after the moment (300 ms)')
  const closedAfter = await idleClosed
  t.ok(closedAfter >= 480, `the idle connection closed ${Math.round(closedAfter)} ms after the drain started: its moment + idleGrace (500 ms)`)
  const report = await draining
  t.equal(report.closedIdle, 1)
  t.equal(report.forced, 0)
})

t.test('moments still to come are cancelled when the drain ends', async t => {
  const { server, open } = await serve(t)
  const sockets = await Promise.all(Array.from({ length: 4 }, open))
  for (const socket of sockets) await ask(socket)
  const random = t.capture(Math, 'random', () => 0.99)
  const draining = drain([server], 300, 10000, undefined, 60000)
  t.equal(random.args().length, 4, 'one moment per connection')
  // the clients leave before their moments (297 ms): nothing is left to close
  for (const socket of sockets) socket.destroy()
  const report = await draining
  t.ok(report.durationMs < 290, `the drain ended when the clients left (${report.durationMs} ms), before the moments`)
  t.equal(report.closedIdle + report.forced, 0)
})

t.test('CloseSpread: a window of 0 closes at once; a moment is never due before its time', async t => {
  const none = new CloseSpread(0)
  const closed: string[] = []
  none.schedule({}, () => closed.push('at once'))
  t.same(closed, ['at once'], 'synchronously')
  const spread = new CloseSpread(100)
  const connection = {}
  t.ok(spread.isDue({}), 'a connection never scheduled is due')
  t.capture(Math, 'random', () => 0.5)
  const due = new Promise<number>(resolve => {
    const from = performance.now()
    spread.schedule(connection, () => resolve(performance.now() - from))
  })
  t.notOk(spread.isDue(connection), 'not due before its moment')
  t.ok(await due >= 45, 'called at its moment (50 ms)')
  t.ok(spread.isDue(connection), 'due from then on')
})
