// HTTPS and HTTP/2 across reloads: 0 failed requests under load of HTTPS and HTTP/2 clients;
// a renewed certificate is served by the successor while the predecessor's request in flight
// finishes on the old connection, with the old certificate; HTTP/2 sessions get a GOAWAY and
// their streams in flight finish.
import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { once } from 'node:events'
import { copyFileSync, readFileSync } from 'node:fs'
import http2 from 'node:http2'
import https from 'node:https'
import { join } from 'node:path'
import type tls from 'node:tls'
import t from 'tap'
import { fixture, predecessorGone, reload, type RunningApp, startApp, tempDir } from '../helpers/app'
import { connect, h2get, startH2Load } from '../helpers/h2'
import { PACE, startLoad } from '../helpers/load'

const dir = tempDir('fhr-tls-')

/** A self-signed certificate made now; returns its SHA-256 fingerprint. */
function makeCertificate (name: string): string {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-subj', `/CN=${name}`, '-days', '1', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`)], { stdio: 'ignore' })
  return new X509Certificate(readFileSync(join(dir, `${name}.crt`))).fingerprint256
}

/** Puts certificate `name` where the app reads it at boot. */
function install (name: string): void {
  copyFileSync(join(dir, `${name}.key`), join(dir, 'key.pem'))
  copyFileSync(join(dir, `${name}.crt`), join(dir, 'cert.pem'))
}

const oldCert = makeCertificate('old')
const newCert = makeCertificate('new')
const env = { KEY_FILE: join(dir, 'key.pem'), CERT_FILE: join(dir, 'cert.pem'), QUIET: '1' }

interface TlsResponse { status: number, headers: Record<string, unknown>, body: Record<string, any>, fingerprint: string }

/** One HTTPS GET; resolves with the certificate the server showed on that connection. */
function get (port: number, path: string, agent: https.Agent | false = false): Promise<TlsResponse> {
  return new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, path, agent, rejectUnauthorized: false }, res => {
      const fingerprint = (res.socket as tls.TLSSocket).getPeerCertificate().fingerprint256
      let body = ''
      res.setEncoding('utf8')
      res.on('data', c => { body += c })
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(body), fingerprint }))
    }).on('error', reject)
  })
}

/** Waits until the request to /hold is in flight in `pid`. */
function holding (app: RunningApp, pid: number): Promise<unknown> {
  return app.waitFor(l => l.pid === pid && l.msg === 'hold: in flight', 'the held request to arrive')
}

t.test('HTTPS: 2 reloads under load, 0 failed; a renewed certificate is served by the successor, the old connection finishes with the old one', async t => {
  install('old')
  const app = await startApp(env, fixture('tls-app.ts'))
  t.teardown(() => app.kill())
  const first = app.proc.pid!
  const load = startLoad(app.port, { keepAlive: 20, fresh: 1, tls: true, interval: PACE })
  t.teardown(() => load.stop())
  t.equal((await get(app.port, '/')).fingerprint, oldCert, 'generation 1 serves the old certificate')

  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  // answered after the default closeSpread (1 s): its connection's moment to close has come
  const held = get(app.port, '/hold?ms=1200', agent)
  await holding(app, first)
  install('new')
  const { successorPid } = await reload(app, first)

  const fresh = await get(app.port, '/')
  t.equal(fresh.fingerprint, newCert, 'a new connection sees the renewed certificate')
  t.equal(fresh.body.pid, successorPid, 'served by the successor')
  const old = await held
  t.equal(old.status, 200, 'the request in flight finished')
  t.equal(old.body.pid, first, 'in the predecessor')
  t.equal(old.fingerprint, oldCert, 'on the old connection, with the old certificate')
  t.equal(old.headers.connection, 'close', 'which it then closed')

  await predecessorGone(app, successorPid)
  const { successorPid: last } = await reload(app, successorPid)
  await predecessorGone(app, last)
  const outcome = await load.stop()
  t.comment(`https: reloads 2, requests ${outcome.ok + outcome.failed}, failed ${outcome.failed} ${JSON.stringify(outcome.failures)}`)
  t.equal(outcome.failed, 0, 'no request failed')
  for (const p of [first, successorPid, last]) t.ok((outcome.byPid[p] ?? 0) > 0, `pid ${p} served requests`)
  await app.stop(last)
})

t.test('HTTP/2: 2 reloads under load of HTTP/2 and HTTPS/1.1 clients, 0 failed; GOAWAY, the stream in flight finishes with the old certificate', async t => {
  install('old')
  const app = await startApp({ ...env, HTTP2: '1' }, fixture('tls-app.ts'))
  t.teardown(() => app.kill())
  const first = app.proc.pid!
  const h2 = startH2Load(app.port, { sessions: 4, streams: 5 })
  const h1 = startLoad(app.port, { keepAlive: 10, fresh: 1, tls: true, interval: PACE })
  t.teardown(() => Promise.all([h2.stop(), h1.stop()]))

  const session = connect(app.port)
  t.teardown(() => session.destroy())
  const [, socket] = await once(session, 'connect') as [unknown, tls.TLSSocket]
  t.equal(socket.getPeerCertificate().fingerprint256, oldCert, 'generation 1 serves the old certificate')
  const goaway = once(session, 'goaway')
  // held until the predecessor drains: the successor's whole boot, seconds on a loaded machine
  const held = h2get(session, '/hold?ms=200', 120_000)
  await holding(app, first)
  install('new')
  const { successorPid } = await reload(app, first)

  const [code] = await goaway
  t.equal(code, http2.constants.NGHTTP2_NO_ERROR, 'the predecessor sent a graceful GOAWAY')
  const old = await held
  t.equal(old.status, 200, 'the stream in flight finished after the GOAWAY')
  t.match(JSON.parse(old.body), { pid: first, httpVersion: '2.0' }, 'in the predecessor, over HTTP/2')
  const next = connect(app.port)
  t.teardown(() => next.destroy())
  const [, nextSocket] = await once(next, 'connect') as [unknown, tls.TLSSocket]
  t.equal(nextSocket.getPeerCertificate().fingerprint256, newCert, 'a new session sees the renewed certificate')
  t.match(JSON.parse((await h2get(next, '/')).body), { pid: successorPid, httpVersion: '2.0' }, 'served by the successor')
  next.close()

  await predecessorGone(app, successorPid)
  const { successorPid: last } = await reload(app, successorPid)
  await predecessorGone(app, last)
  const [h2Outcome, h1Outcome] = await Promise.all([h2.stop(), h1.stop()])
  t.comment(`http2: reloads 2, HTTP/2 requests ${h2Outcome.ok + h2Outcome.failed} failed ${h2Outcome.failed} ${JSON.stringify(h2Outcome.failures)}, ` +
    `sessions sent GOAWAY ${h2.goaways.count}, streams refused unprocessed and sent again ${h2.refused.count}; ` +
    `HTTPS/1.1 requests ${h1Outcome.ok + h1Outcome.failed} failed ${h1Outcome.failed} ${JSON.stringify(h1Outcome.failures)}`)
  t.equal(h2Outcome.failed, 0, 'no HTTP/2 request failed')
  t.equal(h1Outcome.failed, 0, 'no HTTPS/1.1 request failed')
  t.ok(h2.goaways.count >= 8, 'every load session of both predecessors got a GOAWAY')
  for (const p of [first, successorPid, last]) {
    t.ok((h2Outcome.byPid[p] ?? 0) > 0 && (h1Outcome.byPid[p] ?? 0) > 0, `pid ${p} served both protocols`)
  }
  await app.stop(last)
})
