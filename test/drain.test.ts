// The drain at node:http level, with real servers and clients; https included.
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { drain, stopAccepting, trackConnections } from '../lib/drain'

t.test('https: a request in flight finishes with Connection: close; the drain then completes', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'fhr-tls-'))
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

t.test('stopAccepting on a server that does not listen, and a drain with nothing to drain', async t => {
  const server = http.createServer()
  stopAccepting(server)
  const report = await drain([server, net.createServer()], 1000)
  t.same({ ...report, durationMs: 0 }, { closedIdle: 0, forced: 0, forcedRequests: 0, durationMs: 0 })
})
