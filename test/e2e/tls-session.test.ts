// What a reload does to TLS sessions, with real processes: a client's TLS session (its session
// ticket) from the predecessor does not resume on the successor (each process has its own
// ticket keys: a full handshake, as the README says), while a session from the successor resumes
// on the successor. Whether handing the ticket keys over would matter: bench/tls-resume.js.
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import tls from 'node:tls'
import t from 'tap'
import { fixture, predecessorGone, reload, startApp, tempDir } from '../helpers/app'

const dir = tempDir('fhr-tls-session-')
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
  '-subj', '/CN=localhost', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
const env = { KEY_FILE: join(dir, 'key.pem'), CERT_FILE: join(dir, 'cert.pem'), QUIET: '1' }

/** One HTTPS/1.1 GET / on a new connection offering `session`: whether it resumed, the session to offer next, who answered. */
function get (port: number, session?: Buffer): Promise<{ reused: boolean, session: Buffer, pid: number }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, session, ALPNProtocols: ['http/1.1'] })
    let ticket: Buffer | undefined
    let body = ''
    socket.on('session', (s: Buffer) => { ticket = s })
    socket.once('secureConnect', () => socket.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'))
    socket.setEncoding('utf8').on('data', (chunk: string) => { body += chunk })
    socket.once('end', () => {
      const pid = Number(/"pid":(\d+)/.exec(body)?.[1])
      resolve({ reused: socket.isSessionReused(), session: ticket ?? socket.getSession()!, pid })
    })
    socket.once('error', reject)
  })
}

t.test('a TLS session from the predecessor does not resume on the successor (a full handshake); one from the successor does', async t => {
  const app = await startApp(env, fixture('tls-app.ts'))
  t.teardown(() => app.kill())
  const first = app.proc.pid!
  const before = await get(app.port)
  t.equal(before.pid, first)
  const again = await get(app.port, before.session)
  t.ok(again.reused, 'on the same process, the session resumes')

  const { successorPid } = await reload(app, first)
  await predecessorGone(app, successorPid)
  const after = await get(app.port, again.session)
  t.equal(after.pid, successorPid)
  t.notOk(after.reused, 'the predecessor\'s session does not resume on the successor: its ticket keys are its own')
  t.ok((await get(app.port, after.session)).reused, 'a session from the successor resumes on it')
  await app.stop(successorPid)
})
