// The successor goes away right after it said ready, while its predecessor still drains.
// SIGKILL: what clients see is measured, and asserted as the documented behaviour (README,
// Caveats): the predecessor finishes what it holds, but it has stopped accepting, so once the
// successor is gone nobody holds the listening socket and new connections are refused.
// SIGTERM: the successor shuts down gracefully like any process (its atExit hooks run).
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import t from 'tap'
import { reload, startApp } from '../helpers/app'
import { request } from '../helpers/http'
import { PACE, startLoad } from '../helpers/load'
import { exitLine } from '../helpers/log-lines'
import { alive } from '../helpers/proc'

/** What a request on a new connection gets: its status, or its error code. */
function attempt (port: number): Promise<number | string> {
  return request(port, '/').then(r => r.status, (err: NodeJS.ErrnoException) => err.code ?? err.message)
}

t.test('SIGKILL of the successor right after ready: the predecessor finishes its requests, then new connections are refused', async t => {
  // the drain (connectionHandover: false): with the hand-over, the connections that moved die
  // with the successor too
  const app = await startApp({ QUIET: '1', HANDOVER: '0' })
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const load = startLoad(app.port, { keepAlive: 20, fresh: 2, interval: PACE })
  // keeps the predecessor draining for 2 s after the hand-over
  const held = request(app.port, '/hold?ms=2000')
  const exit = once(app.proc, 'exit')
  const { successorPid } = await reload(app, pid)
  process.kill(successorPid, 'SIGKILL')

  const res = await held
  t.equal(res.status, 200, 'the predecessor still answers the request it holds')
  t.equal(res.body.pid, pid)
  t.equal(res.headers.connection, 'close')
  t.same(await exit, [0, null], 'the predecessor drains and exits 0, as after any hand-over')
  t.equal(readFileSync(app.atExitFile, 'utf8'), `${pid}\n`, 'its atExit hooks ran')
  await app.ended
  t.equal(await attempt(app.port), 'ECONNREFUSED', 'nobody holds the listening socket any more: refused')
  const outcome = await load.stop()

  t.comment(`successor SIGKILLed after ready: requests ${outcome.ok + outcome.failed}, ok ${outcome.ok}, failed ${outcome.failed} ${JSON.stringify(outcome.failures)}`)
  t.ok((outcome.failures.ECONNREFUSED ?? 0) > 0, 'new connections were refused')
  const classes = Object.keys(outcome.failures).filter(c => c !== 'ECONNREFUSED' && c !== 'ECONNRESET' && c !== 'EPIPE')
  t.same(classes, [], 'every failure is a refused or reset connection: no 5xx, no timeout')
  // the successor writes the pid file just after it says ready: it may have died in between
  const named = Number(readFileSync(app.pidFile, 'utf8'))
  t.ok(named === successorPid || named === pid, 'the pid file names the successor (or, if it died at once, the predecessor)')
  t.notOk(alive(named), 'a process that is gone: the CLI reports the pid file as stale')
  t.notOk(alive(successorPid))
})

t.test('SIGTERM to the successor right after ready: it shuts down gracefully, atExit hooks run there too', async t => {
  const app = await startApp()
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const held = request(app.port, '/hold?ms=2000')
  const exit = once(app.proc, 'exit')
  const { successorPid } = await reload(app, pid)
  await app.waitFor(l => l.pid === successorPid && l.event === 'ready', 'the successor to be ready')
  process.kill(successorPid, 'SIGTERM')
  const down = await app.waitFor(l => l.pid === successorPid && exitLine(l, 'shutdown'), 'the successor to shut down')
  t.equal((down.hotRestart as { forced: number }).forced, 0, 'nothing was forced')
  t.equal((await held).status, 200, 'the predecessor still answers the request it holds')
  t.same(await exit, [0, null])
  await app.ended
  t.same(readFileSync(app.atExitFile, 'utf8').split('\n').filter(Boolean).map(Number).sort(), [pid, successorPid].sort(),
    'each process ran its atExit hooks once')
  t.notOk(existsSync(app.pidFile), 'the successor removed the pid file that named it')
  t.notOk(alive(successorPid))
})
