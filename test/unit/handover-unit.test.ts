// lib/handover.ts in-process, with real servers and sockets: which connections may move and
// when, what a connection that could not be sent becomes, and the successor's adoption. The
// moves between processes are in test/e2e/handover.test.ts.
import { execFileSync } from 'node:child_process'
import { EventEmitter, once } from 'node:events'
import http from 'node:http'
import http2 from 'node:http2'
import https from 'node:https'
import net from 'node:net'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { drain, trackConnections } from '../../lib/drain'
import { adopt, atBoundary, canMove, Handover, isConnectionMessage, parserIdle, receiveConnections, type HandoverTarget } from '../../lib/handover'
import { connect, foreignConnection } from '../helpers/raw-http'

async function serve (t: Test, handler: http.RequestListener = (_req, res) => res.end('ok')): Promise<{ server: http.Server, port: number }> {
  const server = http.createServer(handler)
  const untrack = trackConnections(server)
  await once(server.listen(0, '127.0.0.1'), 'listening')
  t.teardown(() => { untrack(); server.closeAllConnections(); server.close() })
  return { server, port: (server.address() as net.AddressInfo).port }
}

t.test('which servers can hand connections over: plain HTTP/1.1 only', async t => {
  const dir = t.testdir()
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=localhost',
    '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
  const plain = http.createServer()
  await once(plain.listen(0, '127.0.0.1'), 'listening')
  t.teardown(() => plain.close())
  t.ok(canMove(plain), 'node:http')
  t.notOk(canMove(http.createServer()), 'not before it listens (Node tracks its connections from then on)')
  t.same([...parserIdle(http.createServer())], [], 'and before it listens, no connection is idle')
  t.notOk(canMove(https.createServer()), 'not TLS: the session cannot cross processes')
  t.notOk(canMove(http2.createServer() as unknown as net.Server), 'not HTTP/2')
  t.notOk(canMove(net.createServer()), 'not another protocol')
})

t.test('a connection is at a boundary before its first byte and between requests; not with a request begun or in flight', async t => {
  let respond!: () => void
  const { server, port } = await serve(t, (req, res) => {
    if (req.url === '/wait') respond = () => res.end('late')
    else res.end('ok')
  })
  const accepted = once(server, 'connection')
  const c = await connect(port)
  t.teardown(() => c.close())
  const [socket] = await accepted as [net.Socket]
  t.ok(atBoundary(socket, parserIdle(server)), 'a connection that has sent nothing')
  c.write(c.get('/'))
  await c.next()
  t.ok(atBoundary(socket, parserIdle(server)), 'after a complete request and its response')
  const read = socket.bytesRead
  c.write('GET / HTTP/1.1\r\nHo')
  while (socket.bytesRead === read) await new Promise(resolve => setTimeout(resolve, 5))
  t.notOk(atBoundary(socket, parserIdle(server)), 'with a request half read')
  c.write('st: x\r\n\r\n')
  await c.next()
  c.write(c.get('/wait'))
  while (respond === undefined) await new Promise(resolve => setTimeout(resolve, 5))
  t.notOk(atBoundary(socket, parserIdle(server)), 'with a response in flight')
  respond()
  await c.next()
  t.ok(atBoundary(socket, parserIdle(server)), 'once it is written')
})

t.test('a connection that cannot be sent (the successor has gone) is drained here as before', async t => {
  const { server, port } = await serve(t)
  const c = await connect(port)
  t.teardown(() => c.close())
  c.write(c.get('/'))
  await c.next()
  const sends: string[] = []
  const closed: HandoverTarget = {
    send (message, _socket, _handle, done) {
      sends.push(message.socket)
      process.nextTick(done, Object.assign(new Error('channel closed'), { code: 'ERR_IPC_CHANNEL_CLOSED' }))
    }
  }
  const handover = new Handover(closed, new Map([[server, `127.0.0.1:${port}`]]))
  const drained = drain([server], 5000, 200, handover)
  while (handover.report.fellBack === 0) await new Promise(resolve => setTimeout(resolve, 5))
  t.same(sends, [`127.0.0.1:${port}`], 'one attempt, named by the address of its listening socket')
  c.write(c.get('/'))
  const res = await c.next()
  t.equal(res.headers.connection, 'close', 'its next request is answered with Connection: close, as in the drain without hand-over')
  const report = await drained
  t.equal(report.moved, 0)
  t.equal(report.notMoved, 1, 'reported as not moved')
})

t.test('the successor adopts a connection as if it had accepted it', async t => {
  const { server } = await serve(t, (_req, res) => res.end('adopted'))
  // a connection accepted by another server stands for one received from the predecessor
  const { socket, client: c } = await foreignConnection(t)
  const connections = await new Promise<number>(resolve => server.getConnections((_err, n) => resolve(n)))
  adopt(server, socket)
  t.equal(await new Promise<number>(resolve => server.getConnections((_err, n) => resolve(n))), connections + 1, 'counted among the server\'s connections')
  c.write(c.get('/'))
  t.equal((await c.next()).body, 'adopted', 'served by the adopting server\'s handler')
})

t.test('connection messages are checked before anything is trusted', async t => {
  t.ok(isConnectionMessage({ hotRestart: 'connection', socket: '127.0.0.1:3000' }))
  for (const bad of [null, 'connection', {}, { hotRestart: 'connection' }, { hotRestart: 'connection', socket: '' }, { hotRestart: 'connection', fd: 3 }, { hotRestart: 'ready', socket: '/tmp/s' }]) {
    t.notOk(isConnectionMessage(bad), JSON.stringify(bad))
  }
})

t.test('a send that fails once the handle has left closes the connection and counts it', async t => {
  const { server, port } = await serve(t)
  const c = await connect(port)
  t.teardown(() => c.close())
  c.write(c.get('/'))
  await c.next()
  // the handle leaves (as Node's send takes it), then the write to the channel fails
  const lost: HandoverTarget = {
    send (_message, socket, _handle, done) {
      const s = socket as net.Socket & { _handle: { close (): void } | null }
      const handle = s._handle!
      s._handle = null
      handle.close()
      process.nextTick(done, new Error('write EPIPE'))
    }
  }
  const handover = new Handover(lost, new Map([[server, `127.0.0.1:${port}`]]))
  const report = await drain([server], 5000, 200, handover)
  t.equal(handover.report.failed, 1, 'counted as failed')
  t.equal(report.notMoved, 1)
  if (!c.closed) await once(c.socket, 'close')
  t.ok(c.closed, 'the client sees its idle connection close')
})

t.test('the successor takes a connection only from a connection message with its handle, for a socket it serves', async t => {
  const { server } = await serve(t, (_req, res) => res.end('adopted'))
  const proc = new EventEmitter() as unknown as NodeJS.Process
  let gone!: () => void
  const done = new Promise<void>(resolve => { gone = resolve })
  const entry = { fd: 3, kind: 'tcp' as const, address: '127.0.0.1', port: 3000, requested: { host: '127.0.0.1', port: 3000 } }
  // a listener bound here (none inherited) is never a connection's destination
  const receiver = { draining: false, sockets: { listeners: [{ server: http.createServer() }, { server, inherited: entry }], listenerOf: () => undefined } }
  receiveConnections(proc, receiver, done)
  const accept = () => foreignConnection(t)
  proc.emit('message', { hotRestart: 'ready' }, undefined)
  proc.emit('message', { hotRestart: 'connection', socket: '127.0.0.1:3000' }, undefined)
  const unknown = await accept()
  proc.emit('message', { hotRestart: 'connection', socket: '127.0.0.1:3001' }, unknown.socket)
  if (!unknown.client.closed) await once(unknown.client.socket, 'close')
  t.ok(unknown.client.closed, 'a connection for a socket no server here listens on is closed')
  const known = await accept()
  proc.emit('message', { hotRestart: 'connection', socket: '127.0.0.1:3000' }, known.socket)
  known.client.write(known.client.get('/'))
  t.equal((await known.client.next()).body, 'adopted', 'one for a socket it serves is adopted')
  receiver.draining = true
  const late = await accept()
  proc.emit('message', { hotRestart: 'connection', socket: '127.0.0.1:3000' }, late.socket)
  if (!late.client.closed) await once(late.client.socket, 'close')
  t.ok(late.client.closed, 'one that arrives once this process drains is closed')
  gone()
  await done
  await new Promise(resolve => setImmediate(resolve))
  t.equal((proc as unknown as EventEmitter).listenerCount('message'), 0, 'it stops listening once the predecessor has gone')
})

t.test('a connection handed over just as this process begins to drain is served by that drain, not reset', async t => {
  // under run, a stop right after a reload: the old worker's connection (its request sent, not
  // read yet) reaches the new worker after the new worker was told to shut down
  const { server } = await serve(t, (_req, res) => res.end('adopted'))
  const proc = new EventEmitter() as unknown as NodeJS.Process
  const entry = { fd: 3, kind: 'tcp' as const, address: '127.0.0.1', port: 3000, requested: { host: '127.0.0.1', port: 3000 } }
  const receiver = { draining: false, sockets: { listeners: [{ server, inherited: entry }], listenerOf: () => undefined } }
  const stop = receiveConnections(proc, receiver)
  t.teardown(stop)
  const { socket, client } = await foreignConnection(t)
  receiver.draining = true
  // this process has no connection of its own: its drain waits only for the predecessor
  let exited!: () => void
  const arriving = new Promise<void>(resolve => { exited = resolve })
  let finished = false
  const draining = drain([server], 10000, 200, undefined, 0, arriving).finally(() => { finished = true })
  await new Promise(resolve => setImmediate(resolve))
  proc.emit('message', { hotRestart: 'connection', socket: '127.0.0.1:3000' }, socket)
  client.write(client.get('/'))
  const response = await client.next()
  t.equal(response.body, 'adopted', 'its request is answered')
  t.match(response.headers, { connection: 'close' }, 'with Connection: close')
  if (!client.closed) await once(client.socket, 'close')
  t.notOk(finished, 'the drain goes on while the predecessor may still move connections')
  exited()
  const report = await draining
  t.equal(report.forced, 0, 'and ends once it has exited')
  const { socket: lateSocket, client: late } = await foreignConnection(t)
  proc.emit('message', { hotRestart: 'connection', socket: '127.0.0.1:3000' }, lateSocket)
  if (!late.closed) await once(late.socket, 'close')
  t.ok(late.closed, 'once the drain is over, a connection handed over is closed')
})

t.test('a connection waiting to move that leaves HTTP (an upgrade completes) is drained as what cannot move', async t => {
  const { server, port } = await serve(t)
  server.on('upgrade', (_req, socket: net.Socket) => { socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n') })
  const accepted = once(server, 'connection')
  const c = await connect(port)
  t.teardown(() => c.close())
  const [socket] = await accepted as [net.Socket]
  const request = 'GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n'
  c.write(request.slice(0, 20)) // begun: not at a boundary
  while (socket.bytesRead < 20) await new Promise(resolve => setTimeout(resolve, 5))
  const sends: string[] = []
  const target: HandoverTarget = { send (message, _socket, _handle, done) { sends.push(message.socket); process.nextTick(done, null) } }
  const handover = new Handover(target, new Map([[server, `127.0.0.1:${port}`]]))
  const drained = drain([server], 1500, 200, handover)
  c.write(request.slice(20))
  const report = await drained
  t.same(sends, [], 'never sent')
  t.equal(report.forced, 1, 'the upgraded connection lives until the deadline, as in the drain without hand-over')
  t.equal(report.closedIdle, 0, 'never taken for idle')
})

/**
 * Nine kept-alive connections that have each had a response, and a drain whose hand-over target
 * keeps every send pending until the test calls its `callbacks`: eight in flight, one waiting.
 */
async function nineConnections (t: Test, handler?: http.RequestListener, deadline = 10000, idleGrace = 5000) {
  const { server, port } = await serve(t, handler)
  const accepted: net.Socket[] = []
  server.on('connection', (socket: net.Socket) => accepted.push(socket))
  const clients = await Promise.all(Array.from({ length: 9 }, () => connect(port)))
  t.teardown(() => { for (const c of clients) c.close() })
  for (const c of clients) { c.write(c.get('/')); await c.next() }
  const sent: net.Socket[] = []
  const callbacks: Array<(err: Error | null) => void> = []
  const target: HandoverTarget = { send (_message, socket, _handle, done) { sent.push(socket); callbacks.push(done) } }
  const handover = new Handover(target, new Map([[server, `127.0.0.1:${port}`]]))
  const drained = drain([server], deadline, idleGrace, handover)
  /** The client whose connection was not given to the channel. */
  const waitingClient = () => clients[accepted.findIndex(socket => !sent.includes(socket))]!
  return { server, accepted, sent, callbacks, handover, drained, waitingClient }
}

t.test('connections are given to the channel 8 at a time; one that closes while it waits is not sent', async t => {
  const { accepted, sent, callbacks, handover, drained } = await nineConnections(t, undefined, 5000, 200)
  t.equal(sent.length, 8, 'eight in flight, one waits')
  handover.move(accepted)
  t.equal(sent.length, 8, 'asked again, none of those in flight or waiting is sent twice')
  const waiting = accepted.find(socket => !sent.includes(socket))!
  waiting.destroy()
  for (const done of callbacks.splice(0)) done(null)
  const report = await drained
  t.equal(sent.length, 8, 'the one closed while it waited was not sent')
  t.equal(report.moved, 8)
})

t.test('a connection waiting its turn to move is still served here: a request on it is answered at once, and it moves after', async t => {
  const { sent, callbacks, drained, waitingClient } = await nineConnections(t)
  t.equal(sent.length, 8, 'eight in flight, one waits')
  const client = waitingClient()
  client.write(client.get('/'))
  // bounded: on a connection held while it waits (the old way), this answer never comes
  let timer: NodeJS.Timeout | undefined
  const answer = await Promise.race([
    client.next(),
    new Promise<undefined>(resolve => { timer = setTimeout(() => resolve(undefined), 10000) })
  ])
  clearTimeout(timer)
  t.equal(answer?.body, 'ok', 'answered by this process while the others are on their way')
  t.not(answer?.headers.connection, 'close', 'and kept alive: it moves next')
  for (const done of callbacks.splice(0)) done(null)
  t.equal(sent.length, 9, 'it is given to the channel as soon as one of the eight has gone')
  for (const done of callbacks.splice(0)) done(null)
  const report = await drained
  t.equal(report.moved, 9, 'every connection moved, the one served meanwhile too')
})

t.test('a connection whose turn comes while its request is in flight moves after its response', async t => {
  let respond: (() => void) | undefined
  const { server, sent, callbacks, drained, waitingClient } = await nineConnections(t, (req, res) => {
    if (req.url === '/wait') respond = () => res.end('late')
    else res.end('ok')
  })
  const client = waitingClient()
  client.write(client.get('/wait'))
  await once(server, 'request')
  for (const done of callbacks.splice(0)) done(null)
  t.equal(sent.length, 8, 'its turn came with a request in flight: not sent')
  respond!()
  t.equal((await client.next()).body, 'late', 'answered here')
  const moved = async (): Promise<void> => { while (sent.length < 9) await new Promise(resolve => setImmediate(resolve)) }
  await moved()
  for (const done of callbacks.splice(0)) done(null)
  t.equal((await drained).moved, 9, 'then moved')
})
