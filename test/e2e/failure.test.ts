// Failures around an upgrade: a shutdown while the successor boots, a request longer than
// drainTimeout, a predecessor killed while it drains, a reload asked of a successor whose
// predecessor still drains. Manifests that cannot be trusted: manifest-boot.test.ts.
import { once } from 'node:events'
import { readFileSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import t from 'tap'
import { predecessorGone, reload, startApp, tempDir } from '../helpers/app'
import { request } from '../helpers/http'
import { exitLine } from '../helpers/log-lines'
import { alive } from '../helpers/proc'

// each test boots its own processes on port 0: two at a time
t.jobs = 2

t.test('SIGTERM to the predecessor while its successor boots: the successor is stopped, the predecessor shuts down', async t => {
  const bootFile = join(tempDir('fhr-'), 'boot')
  writeFileSync(bootFile, 'hang')
  const app = await startApp({ BOOT_FILE: bootFile })
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  process.kill(pid, 'SIGUSR2')
  const started = await app.waitFor(l => l.event === 'upgrade.started', 'the upgrade to start')
  const successorPid = started.successorPid as number
  // the successor has registered the plugin (so it handles SIGTERM) once it says it hangs
  await app.waitFor(l => l.pid === successorPid && l.msg === 'boot: hanging', 'the successor to hang')
  const exit = once(app.proc, 'exit')
  process.kill(pid, 'SIGTERM')
  const [code] = await exit
  t.equal(code, 0, 'the predecessor exits 0')
  // its last lines may still be in the pipe when its exit is seen: read them all first
  await app.ended
  t.ok(app.lines.some(l => l.pid === pid && l.event === 'upgrade.aborted'))
  t.notOk(alive(successorPid), 'no orphan: the successor is gone')
  t.equal(readFileSync(app.atExitFile, 'utf8'), `${pid}\n`, 'the predecessor ran its atExit hooks')
})

t.test('a request longer than drainTimeout is cut at the deadline; the exit still happens', async t => {
  const app = await startApp({ DRAIN_TIMEOUT: '1000' })
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const slow = request(app.port, '/slow?ms=30000').then(() => 'answered', (err: NodeJS.ErrnoException) => err.code)
  await app.waitFor(l => l.pid === pid && (l.req as { url?: string } | undefined)?.url === '/slow?ms=30000', 'the slow request to arrive')
  const exit = once(app.proc, 'exit')
  const { successorPid } = await reload(app, pid)
  t.equal(await slow, 'ECONNRESET', 'the client of the cut request sees its connection closed')
  const [code] = await exit
  t.equal(code, 0)
  const forced = await app.waitFor(l => l.pid === pid && l.event === 'drain.forced', 'the forced-close log')
  t.equal(forced.forced, 1)
  t.equal(forced.forcedRequests, 1)
  t.equal(readFileSync(app.atExitFile, 'utf8'), `${pid}\n`, 'atExit hooks ran after the forced drain')
  await predecessorGone(app, successorPid)
  await app.stop(successorPid)
})

t.test('a reload asked of a successor whose predecessor still drains is refused, then accepted', async t => {
  const app = await startApp()
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  // keeps the predecessor draining for 3 s
  const hold = request(app.port, '/hold?ms=3000')
  await app.waitFor(l => l.pid === pid && (l.req as { url?: string } | undefined)?.url === '/hold?ms=3000', 'the held request to arrive')
  const { successorPid } = await reload(app, pid)
  const refused = await request(app.port, '/upgrade', { method: 'POST' })
  t.equal(refused.status, 500)
  t.equal(refused.body.code, 'FST_HOT_RESTART_PREDECESSOR_DRAINING')
  t.match(refused.body.message, String(pid))
  // the reload signal takes the same path, and says why in the log
  const from = app.lines.length
  process.kill(successorPid, 'SIGUSR2')
  const logged = await app.waitFor(l => app.lines.indexOf(l) >= from && l.pid === successorPid && l.event === 'upgrade.refused', 'the signal to be refused')
  t.equal(logged.code, 'FST_HOT_RESTART_PREDECESSOR_DRAINING', 'a signal is refused with the same reason')
  t.equal((await hold).status, 200)
  await predecessorGone(app, successorPid)
  const accepted = await request(app.port, '/upgrade', { method: 'POST' })
  t.equal(accepted.status, 200)
  t.equal(accepted.body.generation, 3)
  await predecessorGone(app, accepted.body.pid as number)
  await app.stop(accepted.body.pid as number)
})

t.test('SIGKILL of the predecessor while it drains: the successor serves on and learns it', async t => {
  const app = await startApp()
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const hold = request(app.port, '/hold?ms=60000').catch((err: NodeJS.ErrnoException) => err.code)
  await app.waitFor(l => l.pid === pid && (l.req as { url?: string } | undefined)?.url === '/hold?ms=60000', 'the held request to arrive')
  const { successorPid } = await reload(app, pid)
  process.kill(pid, 'SIGKILL')
  t.equal(await hold, 'ECONNRESET', 'the request the killed process held is lost (measured: documented in the README)')
  await predecessorGone(app, successorPid)
  const res = await request(app.port, '/')
  t.same(res.body, { pid: successorPid, generation: 2 }, 'the successor serves')
  await app.stop(successorPid)
})

/** Opens an SSE stream; resolves with what it received once the server ends it. */
function stream (port: number): { first: Promise<string>, done: Promise<{ events: string, error?: string }> } {
  let first!: (chunk: string) => void
  const firstChunk = new Promise<string>(resolve => { first = resolve })
  const done = new Promise<{ events: string, error?: string }>(resolve => {
    http.get({ host: '127.0.0.1', port, path: '/events', agent: false }, res => {
      let events = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { if (events === '') first(c); events += c })
      res.on('end', () => resolve({ events }))
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ events, error: err.code }))
    }).on('error', (err: NodeJS.ErrnoException) => resolve({ events: '', error: err.code }))
  })
  return { first: firstChunk, done }
}

t.test('long-lived connections: an onDrain hook ends an SSE stream cleanly, the client reconnects to the successor', async t => {
  const app = await startApp({ DRAIN_TIMEOUT: '20000' })
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const sse = stream(app.port)
  await sse.first
  const { successorPid } = await reload(app, pid)
  const { events, error } = await sse.done
  t.equal(error, undefined, 'the stream ended cleanly')
  t.match(events, /event: reconnect\ndata: draining\n\n$/, 'its last event tells the client to reconnect')
  const handedOver = await app.waitFor(l => l.pid === pid && exitLine(l, 'upgrade'), 'the hand-over')
  t.equal((handedOver.hotRestart as { forced: number }).forced, 0, 'nothing was forced')
  t.ok((handedOver.hotRestart as { readyToDrainedMs: number }).readyToDrainedMs < 5000, 'the drain did not wait for drainTimeout')
  const again = stream(app.port)
  t.equal((await again.first).trim(), `data: ${successorPid}`, 'the reconnected stream comes from the successor')
  await predecessorGone(app, successorPid)
  await app.stop(successorPid)
  await again.done
})

t.test('long-lived connections without an onDrain hook end at drainTimeout', async t => {
  const app = await startApp({ DRAIN_TIMEOUT: '1500', SSE_DRAIN_HOOK: '0' })
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const sse = stream(app.port)
  await sse.first
  const { successorPid } = await reload(app, pid)
  const { events, error } = await sse.done
  t.ok(error !== undefined || !events.includes('reconnect'), 'the stream was cut, not ended by the app')
  const forced = await app.waitFor(l => l.pid === pid && l.event === 'drain.forced', 'the forced close')
  t.equal(forced.forced, 1)
  await predecessorGone(app, successorPid)
  await app.stop(successorPid)
})

t.test('a successor that listens elsewhere binds fresh; the old socket is closed once it is ready', async t => {
  const bindFile = join(tempDir('fhr-'), 'bind')
  const app = await startApp({ BIND_FILE: bindFile })
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  writeFileSync(bindFile, '::1 0')
  const { successorPid } = await reload(app, pid)
  const fresh = await app.waitFor(l => l.pid === successorPid && l.msg === 'hot-restart: no inherited socket matches; bound a new one', 'the fresh bind')
  t.match(fresh.address, { address: '::1', family: 'IPv6' })
  const closed = await app.waitFor(l => l.pid === successorPid && l.event === 'sockets.unclaimed', 'the unclaimed socket to close')
  t.same(closed.fds, [3])
  await predecessorGone(app, successorPid)
  const refused = await request(app.port, '/').then(() => 'served', (err: NodeJS.ErrnoException) => err.code)
  t.equal(refused, 'ECONNREFUSED', 'the old address is closed once nobody serves it')
  const port = (fresh.address as { port: number }).port
  const res = await new Promise<number>((resolve, reject) => {
    http.get({ host: '::1', port, path: '/' }, r => { r.resume(); resolve(r.statusCode!) }).on('error', reject)
  })
  t.equal(res, 200, 'the new address serves')
  await app.stop(successorPid)
})

t.test('an uncaught error shuts the process down gracefully, exit 1', async t => {
  const app = await startApp()
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const exit = once(app.proc, 'exit')
  await request(app.port, '/crash')
  t.equal((await exit)[0], 1)
  const line = await app.waitFor(l => l.pid === pid && l.event === 'shutdown.error', 'the error log')
  t.match(line.err, { message: 'crash outside a request' })
  t.equal(readFileSync(app.atExitFile, 'utf8'), `${pid}\n`, 'atExit hooks ran')
})

t.test('a second SIGTERM while shutting down forces the exit', async t => {
  const app = await startApp()
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const held = request(app.port, '/hold?ms=60000').catch((err: NodeJS.ErrnoException) => err.code)
  await app.waitFor(l => l.pid === pid && (l.req as { url?: string } | undefined)?.url === '/hold?ms=60000', 'the held request to arrive')
  const exit = once(app.proc, 'exit')
  process.kill(pid, 'SIGTERM')
  await app.waitFor(l => l.pid === pid && l.msg === 'hot-restart: shutting down', 'the shutdown to start')
  process.kill(pid, 'SIGTERM')
  t.equal((await exit)[0], 1, 'exit 1, at once')
  await held
  const line = await app.waitFor(l => l.pid === pid && l.msg === 'hot-restart: close-with-grace', 'close-with-grace to say why')
  t.equal(line.err, 'second SIGTERM, exiting')
})

t.test('a burst of 50 reload signals: exactly one upgrade, the rest refused and logged, one process serves', async t => {
  const app = await startApp()
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const started = Date.now()
  for (let i = 0; i < 50; i++) {
    process.kill(pid, 'SIGUSR2')
    // let the process take each signal (signals of one kind do not queue)
    await new Promise(resolve => setTimeout(resolve, 2))
  }
  t.ok(Date.now() - started < 1000, 'the signals were sent in a burst')
  const ready = await app.waitFor(l => l.pid === pid && l.event === 'upgrade.ready', 'the upgrade')
  const successorPid = ready.successorPid as number
  await predecessorGone(app, successorPid)
  const startedUpgrades = app.lines.filter(l => l.event === 'upgrade.started')
  const refused = app.lines.filter(l => l.event === 'upgrade.refused')
  t.equal(startedUpgrades.length, 1, 'exactly one upgrade ran')
  t.ok(refused.length >= 1, `the others were refused (${refused.length} reached the process)`)
  t.ok(refused.every(l => l.code === 'FST_HOT_RESTART_UPGRADE_IN_PROGRESS' && l.pid === pid), 'each refusal logged once with its reason')
  const res = await request(app.port, '/')
  t.equal(res.body.pid, successorPid, 'exactly one process serves')
  t.notOk(alive(pid))
  await app.stop(successorPid)
})
