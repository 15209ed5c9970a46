// Issue 12 item 4: what cannot move to the successor is closed over a window (`closeSpread`),
// not all at once. 50 HTTPS keep-alive clients in closed loops and 20 idle ones across a reload:
// the predecessor's closes, timed by the clients, spread over the window; no request fails.
import { execFileSync } from 'node:child_process'
import https from 'node:https'
import { join } from 'node:path'
import type tls from 'node:tls'
import t from 'tap'
import { fixture, predecessorGone, reload, startApp, tempDir } from '../helpers/app'

const dir = tempDir('fhr-spread-')
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
  '-subj', '/CN=spread', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
const SPREAD = 1000

/** A client with one kept-alive TLS connection at a time; records when its connections close. */
class Client {
  readonly agent = new https.Agent({ keepAlive: true, maxSockets: 1 })
  /** For each connection that closed: when (performance.now()), and the pid that last answered on it. */
  readonly closes: Array<{ at: number, pid: number }> = []
  failed: string[] = []
  ok = 0
  private readonly seen = new WeakSet<tls.TLSSocket>()

  constructor (readonly port: number) {}

  get (): Promise<void> {
    return new Promise(resolve => {
      https.get({ host: '127.0.0.1', port: this.port, path: '/', agent: this.agent, rejectUnauthorized: false }, res => {
        const socket = res.socket as tls.TLSSocket
        let body = ''
        res.setEncoding('utf8')
        res.on('data', chunk => { body += chunk })
        res.on('end', () => {
          if (res.statusCode === 200) this.ok++
          else this.failed.push(String(res.statusCode))
          const pid = JSON.parse(body).pid as number
          if (!this.seen.has(socket)) {
            this.seen.add(socket)
            socket.once('close', () => this.closes.push({ at: performance.now(), pid: this.lastPid.get(socket)! }))
          }
          this.lastPid.set(socket, pid)
          resolve()
        })
      }).on('error', (err: NodeJS.ErrnoException) => { this.failed.push(err.code ?? err.message); resolve() })
    })
  }

  private readonly lastPid = new WeakMap<tls.TLSSocket, number>()
}

/** The spread of `times` (ms): the longest minus the shortest. */
const range = (times: number[]): number => Math.max(...times) - Math.min(...times)
/** The most of `times` within any `width` ms. */
const densest = (times: number[], width: number): number => Math.max(...times.map(from => times.filter(at => at >= from && at < from + width).length))

t.test(`50 busy and 20 idle HTTPS keep-alive clients across a reload: the predecessor's closes spread over closeSpread (${SPREAD} ms), 0 failed`, async t => {
  const app = await startApp({ KEY_FILE: join(dir, 'key.pem'), CERT_FILE: join(dir, 'cert.pem'), QUIET: '1', CLOSE_SPREAD: String(SPREAD) }, fixture('tls-app.ts'))
  t.teardown(() => app.kill())
  const first = app.proc.pid!
  const busy = Array.from({ length: 50 }, () => new Client(app.port))
  const idle = Array.from({ length: 20 }, () => new Client(app.port))
  t.teardown(() => { for (const c of [...busy, ...idle]) c.agent.destroy() })
  await Promise.all(idle.map(c => c.get()))
  let running = true
  // closed loops with a short think time (the machine is shared): bounded by `running`
  const loops = busy.map(async c => {
    while (running) {
      await c.get()
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  })
  t.teardown(() => { running = false })
  await Promise.all(busy.map(async c => { while (c.ok === 0 && running) await new Promise(resolve => setTimeout(resolve, 10)) }))

  const { successorPid } = await reload(app, first)
  const readyAt = performance.now()
  await predecessorGone(app, successorPid)
  running = false
  await Promise.all(loops)

  const busyCloses = busy.flatMap(c => c.closes.filter(close => close.pid === first).map(close => close.at))
  const idleCloses = idle.flatMap(c => c.closes.filter(close => close.pid === first).map(close => close.at))
  const failed = [...busy, ...idle].flatMap(c => c.failed)
  const ms = (times: number[]): string => `${Math.round(Math.min(...times) - readyAt)} to ${Math.round(Math.max(...times) - readyAt)} ms after ready`
  t.comment(`busy: ${busy.reduce((sum, c) => sum + c.ok, 0)} requests, ${busyCloses.length} closes ${ms(busyCloses)}; idle: ${idleCloses.length} closes ${ms(idleCloses)}`)
  t.same(failed, [], '0 failed requests')
  t.equal(busyCloses.length, 50, 'each busy client\'s connection to the predecessor was closed (Connection: close)')
  t.equal(idleCloses.length, 20, 'each idle connection to the predecessor was closed')
  // uniform over 1 s, 50 draws: all within 500 ms has a probability of about 1e-13 (closing all
  // at once, closeSpread 0, spread them over 264 ms, on this machine at load average 5)
  t.ok(range(busyCloses) >= 500, `busy connections closed over ${Math.round(range(busyCloses))} ms, not at once`)
  t.ok(densest(busyCloses, 100) <= 20, `at most 20 in any 100 ms (${densest(busyCloses, 100)}; about 5 expected)`)
  t.ok(range(idleCloses) >= 300, `idle connections closed over ${Math.round(range(idleCloses))} ms, not at once`)
  t.ok(Math.min(...idleCloses) - readyAt >= 4500, 'idle connections closed after idleGrace (5 s)')
  await app.stop(successorPid)
})
