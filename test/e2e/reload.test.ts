// Reloading with real processes: the signal, the hand-over, the drain, the atExit hooks, the
// refusal of a second signal, and a graceful SIGTERM.
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import t from 'tap'
import { predecessorGone, reload, startApp } from '../helpers/app'
import { request } from '../helpers/http'
import { exitLine } from '../helpers/log-lines'

t.test('SIGUSR2 hands the port over to a new process; the old one runs its atExit hooks and exits 0', async t => {
  const app = await startApp()
  t.teardown(() => app.kill())
  const first = app.proc.pid!
  const before = await request(app.port, '/')
  t.same(before.body, { pid: first, generation: 1 })

  const exit = once(app.proc, 'exit')
  const { successorPid } = await reload(app, first)
  const [code, signal] = await exit
  t.equal(code, 0, 'the predecessor exits 0')
  t.equal(signal, null)

  const after = await request(app.port, '/')
  t.same(after.body, { pid: successorPid, generation: 2 }, 'the successor serves the same port')
  t.not(successorPid, first)
  t.equal(readFileSync(app.pidFile, 'utf8'), `${successorPid}\n`, 'the pid file names the successor')
  t.equal(readFileSync(app.atExitFile, 'utf8'), `${first}\n`, 'atExit ran once, in the predecessor only')

  const done = await app.waitFor(l => exitLine(l, 'upgrade'), 'the hand-over log')
  const info = done.hotRestart as Record<string, number>
  t.equal(info.predecessorPid, first)
  t.equal(info.successorPid, successorPid)
  t.equal(info.generation, 2)
  for (const key of ['signalToReadyMs', 'readyToDrainedMs', 'drainedToExitMs']) t.type(info[key], 'number', key)
  // the stable events (lib/log-events.ts), in order, of each process
  const events = (pid: number): unknown[] => app.lines.filter(l => l.pid === pid && typeof l.event === 'string').map(l => l.event)
  // (pino's asynchronous stdout may write the last line before the one it was retrying on a
  // full pipe when the process exits: the last two are not checked for order)
  const predecessorEvents = events(first)
  t.same(predecessorEvents.slice(0, 2), ['ready', 'upgrade.started'], 'the predecessor\'s events, in order')
  t.same(predecessorEvents.slice(2).sort(), ['exit', 'upgrade.ready'], 'then the successor is ready, and the predecessor exits')
  t.equal(done.event, 'exit')
  t.same(events(successorPid).slice(0, 1), ['ready'], 'the successor\'s first event')

  await predecessorGone(app, successorPid)
  await app.stop(successorPid)
  t.equal(readFileSync(app.atExitFile, 'utf8'), `${first}\n${successorPid}\n`, 'the successor runs its hooks at its own shutdown')
})

t.test('without connectionHandover, a request in flight on a kept-alive socket when the reload starts completes 2 s with Connection: close after the successor took over', async t => {
  const app = await startApp({ HANDOVER: '0' })
  t.teardown(() => app.kill())
  const first = app.proc.pid!
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  await request(app.port, '/', { agent }) // open the kept-alive socket
  const slow = request(app.port, '/hold?ms=2000', { agent })
  await app.waitFor(l => l.pid === first && (l.req as { url?: string } | undefined)?.url === '/hold?ms=2000', 'the slow request to arrive')
  const handedOver = reload(app, first)
  const res = await slow
  t.equal(res.status, 200)
  t.equal(res.body.pid, first, 'served by the predecessor')
  t.equal(res.headers.connection, 'close', 'answered with Connection: close')
  const ready = await app.waitFor(l => l.event === 'ready' && l.pid !== first, 'the successor to be ready')
  const completed = await app.waitFor(l => l.pid === first && l.msg === 'request completed' && (l.responseTime as number) > 2000, 'the log of the slow request')
  t.ok((completed.time as number) - (ready.time as number) >= 1900,
    'the request completed about 2 s after the successor was ready')
  const { successorPid } = await handedOver
  const next = await request(app.port, '/', { agent })
  t.equal(next.body.pid, successorPid, 'the next request on the same agent reaches the successor')
  await predecessorGone(app, successorPid)
  // its socket closed first, so that the stop does not wait idleGrace for it
  agent.destroy()
  await app.stop(successorPid)
})

t.test('two signals in quick succession: one upgrade, the other refused and logged', async t => {
  const app = await startApp()
  t.teardown(() => app.kill())
  const first = app.proc.pid!
  const handedOver = reload(app, first)
  // signals of one kind do not queue: send the second once the first is being handled
  await app.waitFor(l => l.pid === first && l.event === 'upgrade.started', 'the upgrade to start')
  process.kill(first, 'SIGUSR2')
  const refused = await app.waitFor(l => l.pid === first && l.event === 'upgrade.refused', 'the refusal')
  t.equal(refused.code, 'FST_HOT_RESTART_UPGRADE_IN_PROGRESS')
  const { successorPid } = await handedOver
  t.equal(app.lines.filter(l => l.event === 'upgrade.started').length, 1, 'one upgrade started')

  // the successor refuses while its predecessor is still there, then accepts
  await predecessorGone(app, successorPid)
  const res = await request(app.port, '/')
  t.equal(res.body.pid, successorPid, 'exactly one process serves')
  await app.stop(successorPid)
})

t.test('SIGTERM shuts down gracefully: the request in flight finishes, atExit hooks run, exit 0', async t => {
  // closes at once: the request answers about 1 s after the signal, within the default spread
  const app = await startApp({ CLOSE_SPREAD: '0' })
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const slow = request(app.port, '/slow?ms=1000')
  await app.waitFor(l => l.pid === pid && (l.req as { url?: string } | undefined)?.url === '/slow?ms=1000', 'the slow request to arrive')
  const exit = once(app.proc, 'exit')
  process.kill(pid, 'SIGTERM')
  const res = await slow
  t.equal(res.status, 200)
  t.equal(res.headers.connection, 'close')
  const [code] = await exit
  t.equal(code, 0)
  t.equal(readFileSync(app.atExitFile, 'utf8'), `${pid}\n`)
  await app.ended
  t.throws(() => readFileSync(app.pidFile), 'the pid file is removed at shutdown')
})
