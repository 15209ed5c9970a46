// atExit hooks that fail in a real process: one throws, one rejects, one never settles. Each is
// logged with its index, the others still run, the whole is bounded by atExitTimeout, and the
// predecessor exits 0 after handing over.
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { predecessorGone, reload, startApp } from '../helpers/app'
import { exitLine } from '../helpers/log-lines'

t.test('failing atExit hooks are logged with their index; the others run; the exit is bounded by atExitTimeout', async t => {
  const app = await startApp({ BAD_AT_EXIT: '1', AT_EXIT_TIMEOUT: '1000' })
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const exit = once(app.proc, 'exit')
  const { successorPid } = await reload(app, pid)
  t.same(await exit, [0, null], 'the predecessor exits 0')
  // its lines may still be in the pipe when its exit is seen: its last line says they are all in
  await app.waitFor(l => l.pid === pid && exitLine(l, 'upgrade'), 'the predecessor\'s last line')
  const logged = (msg: string): Record<string, unknown> | undefined => app.lines.find(l => l.pid === pid && l.msg === msg)
  t.match(logged('hot-restart: atExit hook 0 failed'), { hook: 0, name: 'throws', err: { message: 'atExit throws' } })
  t.match(logged('hot-restart: atExit hook 1 failed'), { hook: 1, name: 'rejects', err: { message: 'atExit rejects' } })
  t.match(logged('hot-restart: atExit hook 2 did not settle within atExitTimeout'), { hook: 2, name: 'neverSettles', atExitTimeout: 1000 })
  t.equal(readFileSync(app.atExitFile, 'utf8'), `${pid}\n`, 'the hook after them ran')
  const done = logged('hot-restart: handed over; exiting')!.hotRestart as { atExitHooks: number, atExitFailed: number, drainedToExitMs: number }
  t.equal(done.atExitHooks, 4)
  t.equal(done.atExitFailed, 3)
  t.ok(done.drainedToExitMs >= 1000 && done.drainedToExitMs < 5000, `bounded by atExitTimeout (${done.drainedToExitMs} ms)`)
  await predecessorGone(app, successorPid)
  await app.stop(successorPid)
})
