// The stop delay (option stopDelay, `run --stop-delay`), with real processes: a pool of
// keep-alive clients and a readiness probe run against the app, then SIGTERM. During the delay
// every request is answered (each response says Connection: close, so the pool reconnects: the
// server still accepts), the readiness route answers 503 from its first request after the
// signal, a reload is refused; then the process drains (a request in flight across the end of
// the delay is answered) and exits. Standalone (Fastify and the node adapter) and under `run`.
import { once } from 'node:events'
import http from 'node:http'
import t, { type Test } from 'tap'
import { fixture, startApp } from '../helpers/app'
import { request } from '../helpers/http'
import { PACE } from '../helpers/load'
import { on, exitLine, type LogLine } from '../helpers/log-lines'
import { portOf, startSupervisor } from '../helpers/supervisor'

const STOP_DELAY = 4000
/** How long the load runs after the signal: well inside the delay, whatever the machine's load. */
const LOAD_AFTER_SIGNAL = 2500

interface Outcome { startedAt: number, status?: number, close?: boolean, error?: string }

/** One GET, recorded; never rejects. */
function get (port: number, path: string, agent: http.Agent | false): Promise<Outcome> {
  const outcome: Outcome = { startedAt: performance.now() }
  return new Promise(resolve => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, res => {
      res.resume()
      res.on('end', () => {
        outcome.status = res.statusCode
        outcome.close = res.headers.connection === 'close'
        resolve(outcome)
      })
    })
    req.setTimeout(20_000, () => req.destroy(new Error('timed out')))
    req.on('error', err => { outcome.error = (err as NodeJS.ErrnoException).code ?? err.message; resolve(outcome) })
  })
}

/** `clients` loops of requests on a keep-alive pool, one per PACE ms each, until `until()`. */
async function load (port: number, clients: number, path: string, agent: http.Agent | false, until: () => boolean, out: Outcome[]): Promise<void> {
  await Promise.all(Array.from({ length: clients }, async () => {
    // bounded: 20,000 requests per loop at most
    for (let i = 0; i < 20_000 && !until(); i++) {
      out.push(await get(port, path, agent))
      await new Promise(resolve => setTimeout(resolve, PACE))
    }
  }))
}

/** Resolves once `check()` holds (checked every 10 ms); rejects after 30 s. */
async function until (check: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 30_000
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

interface Target {
  port: number
  lines: LogLine[]
  waitFor (match: (line: LogLine) => boolean, what?: string, from?: number, timeout?: number): Promise<LogLine>
  /** Sends SIGTERM to whoever receives it (the app, or the supervisor). */
  term (): void
  /** Sends the reload signal to the same process. */
  reload (): void
  ended: Promise<unknown>
}

async function measure (t: Test, target: Target): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 })
  t.teardown(() => agent.destroy())
  const requests: Outcome[] = []
  const probes: Outcome[] = []
  let signalledAt = Infinity
  const stopLoad = (): boolean => performance.now() > signalledAt + LOAD_AFTER_SIGNAL
  const pool = load(target.port, 8, '/', agent, stopLoad, requests)
  const probe = load(target.port, 1, '/ready', false, stopLoad, probes)
  // steady state first: the pool's connections are open and kept alive
  await until(() => requests.length >= 50 && probes.length > 0, 'the pool to run')
  t.ok(requests.every(r => r.status === 200 && r.close === false), 'before the signal: answered, kept alive')
  t.ok(probes.some(p => p.status === 200), 'before the signal: ready')

  const from = target.lines.length
  signalledAt = performance.now()
  const firstAfter = requests.length
  target.term()
  const delayed = await target.waitFor(on('stop.delayed'), 'the stop delay', from, 30_000)
  t.equal(delayed.stopDelay, STOP_DELAY, 'the delay logged')
  // a reload during the delay is refused: the process is shutting down
  target.reload()
  await target.waitFor(l => l.event === 'upgrade.refused' || l.event === 'supervisor.reload.refused', 'the reload to be refused', from, 30_000)
  const stopping = await request(target.port, '/stopping')
  t.same([stopping.status, stopping.body], [200, { stopping: true }], 'the app answers on a new connection; app.hotRestart.stopping is true')
  // a request in flight when the delay ends is answered by the drain
  const slowStart = performance.now()
  const slow = get(target.port, `/slow?ms=${STOP_DELAY}`, false)
  await Promise.all([pool, probe])
  const during = requests.slice(firstAfter)
  const failed = during.filter(r => r.status !== 200)
  t.same(failed, [], '0 failed requests during the delay')
  t.ok(during.length >= 20, `requests answered during the delay: ${during.length}`)
  const afterLog = during.filter(r => r.startedAt > signalledAt + 500)
  t.ok(afterLog.length > 0 && afterLog.every(r => r.close === true), 'responses during the delay say Connection: close (the pool reconnects each time)')
  // the probe in flight at the signal is not counted: it was sent before
  const probesAfter = probes.filter(p => p.startedAt > signalledAt)
  const ok = probesAfter.filter(p => p.status === 200).length
  t.ok(ok <= 1, `readiness answers 503 within one request of the signal (probes sent after it answered 200: ${ok})`)
  t.ok(probesAfter.length > 2 && probesAfter.slice(ok).every(p => p.status === 503), `then 503 on every probe (${probesAfter.length - ok} probes, new connections)`)
  const slowOutcome = await slow
  t.equal(slowOutcome.status, 200, 'the request in flight when the delay ended was answered')
  t.ok(slowOutcome.close, '... with Connection: close')
  const exit = await target.waitFor(l => exitLine(l, 'shutdown'), 'the exit line', from, 60_000)
  await target.ended
  const exitedAt = performance.now()
  t.ok(exitedAt - signalledAt >= STOP_DELAY, `exited after the delay and the drain (${Math.round(exitedAt - signalledAt)} ms after the signal)`)
  t.ok(exitedAt - slowStart >= STOP_DELAY, 'after the request in flight')
  t.ok(exit, 'shut down')
}

for (const adapter of ['fastify', 'node'] as const) {
  t.test(`standalone (${adapter}): SIGTERM serves on for stopDelay, readiness 503 at once, then the drain`, async t => {
    const app = await startApp({ STOP_DELAY: String(STOP_DELAY), NODE_ADAPTER: adapter === 'node' ? '1' : '0' }, fixture('stop-delay-app.ts'))
    t.teardown(() => app.kill())
    const pid = app.proc.pid as number
    await measure(t, {
      ...app,
      term: () => process.kill(pid, 'SIGTERM'),
      reload: () => process.kill(pid, 'SIGUSR2'),
      ended: app.proc.exitCode === null ? once(app.proc, 'exit') : Promise.resolve()
    })
    t.equal(app.proc.exitCode, 0)
  })
}

t.test('run --stop-delay: the supervisor\'s SIGTERM reaches each generation as a stop delay', async t => {
  const s = await startSupervisor({ args: ['--stop-delay', String(STOP_DELAY)], command: [process.execPath, fixture('stop-delay-app.ts')] })
  t.teardown(() => s.kill())
  const port = await portOf(s)
  await measure(t, {
    ...s,
    port,
    term: () => s.proc.kill('SIGTERM'),
    reload: () => s.proc.kill('SIGHUP'),
    ended: s.ended
  })
  t.equal(await s.ended, 0, 'the supervisor exits 0')
})
