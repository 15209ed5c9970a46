// The drain at node:http level, with real servers and clients; https included.
import { execFileSync } from 'node:child_process'
import { EventEmitter, once } from 'node:events'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import dgram from 'node:dgram'
import http2 from 'node:http2'
import https from 'node:https'
import net from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { drain, stopAccepting, stopReceiving, trackConnections } from '../../lib/drain'
import { tempDir } from '../helpers/app'

t.test('https: a request in flight finishes with Connection: close; the drain then completes', async t => {
  const dir = tempDir('fhr-tls-')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
  let arrived!: () => void
  const arrival = new Promise<void>(resolve => { arrived = resolve })
  let answer!: () => void
  const server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => {
    arrived()
    answer = () => res.end('done')
  })
  const untrack = trackConnections(server)
  t.equal(trackConnections(server)(), undefined, 'tracking twice is a no-op')
  await once(server.listen(0, '127.0.0.1'), 'listening')
  const { port } = server.address() as net.AddressInfo
  const response = new Promise<http.IncomingMessage>((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, path: '/', rejectUnauthorized: false, agent: new https.Agent({ keepAlive: true }) }, resolve).on('error', reject)
  })
  await arrival
  const drained = drain([server], 10000)
  answer()
  const res = await response
  t.equal(res.headers.connection, 'close')
  res.resume()
  const report = await drained
  t.equal(report.forced, 0)
  untrack()
})

t.test('a response whose headers went out before the drain (a stream) keeps them; the socket closes once idle after it', async t => {
  let finish!: () => void
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.write('first ')
    finish = () => res.end('last')
  })
  const untrack = trackConnections(server)
  t.teardown(() => { untrack(); server.close() })
  await once(server.listen(0, '127.0.0.1'), 'listening')
  const { port } = server.address() as net.AddressInfo
  const agent = new http.Agent({ keepAlive: true })
  t.teardown(() => agent.destroy())
  // resolves once the headers have arrived: the handler has run
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', agent }, resolve).on('error', reject)
  })
  const drained = drain([server], 10000, 100)
  finish()
  res.setEncoding('utf8')
  let body = ''
  for await (const chunk of res) body += chunk
  t.equal(body, 'first last', 'the stream ends as it began')
  t.equal(res.headers.connection, 'keep-alive', 'with the headers it sent before the drain')
  const report = await drained
  t.same([report.closedIdle, report.forced], [1, 0], 'then its socket is closed once idle')
})

t.test('stopAccepting on a server that does not listen, and a drain with nothing to drain', async t => {
  const server = http.createServer()
  stopAccepting(server)
  const report = await drain([server, net.createServer()], 1000)
  t.same({ ...report, durationMs: 0 }, { closedIdle: 0, goaway: 0, forced: 0, forcedRequests: 0, moved: 0, notMoved: 0, durationMs: 0 })
})

t.test('HTTP/2 (h2c): the drain sends GOAWAY, the stream in flight finishes, a stream left hanging is forced at the deadline', async t => {
  const server = http2.createServer()
  const answers: Array<() => void> = []
  let streams = 0
  server.on('stream', (stream, headers) => {
    streams++
    if (headers[':path'] === '/never') return
    answers.push(() => { stream.respond({ ':status': 200 }); stream.end('done') })
  })
  const untrack = trackConnections(server)
  await once(server.listen(0, '127.0.0.1'), 'listening')
  const { port } = server.address() as net.AddressInfo
  const client = http2.connect(`http://127.0.0.1:${port}`)
  client.on('error', () => {})
  const goaway = once(client, 'goaway')
  const streamed = (path: string): { ready: Promise<unknown>, done: Promise<{ status?: number, body: string, error?: string }> } => {
    const req = client.request({ ':path': path })
    let status: number | undefined
    let body = ''
    req.on('response', headers => { status = headers[':status'] })
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => { body += chunk })
    return {
      ready: once(req, 'ready'),
      done: new Promise(resolve => {
        req.on('end', () => resolve({ status, body }))
        req.on('error', (err: NodeJS.ErrnoException) => resolve({ body, error: err.code }))
      })
    }
  }
  const answered = streamed('/answer')
  const hanging = streamed('/never')
  await Promise.all([answered.ready, hanging.ready])
  while (streams < 2) await once(server, 'stream')

  const drained = drain([server], 500)
  const [code, lastStreamId] = await goaway
  t.equal(code, http2.constants.NGHTTP2_NO_ERROR, 'a graceful GOAWAY')
  t.equal(lastStreamId, 3, 'it names the last stream the server took (streams 1 and 3)')
  answers[0]!()
  t.same(await answered.done, { status: 200, body: 'done' }, 'the stream in flight finished after the GOAWAY')

  // a session that starts while the server drains is told to go away at once
  const late: EventEmitter & { closed: boolean, close (): void, destroy (): void } = Object.assign(new EventEmitter(), {
    closed: false,
    close () { late.closed = true },
    destroy () { late.emit('close') }
  })
  server.emit('session', late)
  t.equal(late.closed, true)

  const report = await drained
  t.match(report, { goaway: 1, forced: 2, forcedRequests: 1 }, 'the hanging stream and the late session were forced')
  const cut = await hanging.done
  t.equal(cut.status, undefined, 'the hanging stream was cut at the deadline, without a response')
  t.equal(cut.body, '')
  untrack()
  client.destroy()
})

t.test('a UDP socket stops receiving once; stopping it again is harmless', async t => {
  const udp = dgram.createSocket('udp4')
  await once(udp.bind(0, '127.0.0.1'), 'listening')
  const closed = once(udp, 'close')
  stopReceiving(udp)
  await closed
  t.doesNotThrow(() => stopReceiving(udp))
})
