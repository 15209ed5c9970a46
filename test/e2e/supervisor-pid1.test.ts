// The supervisor as PID 1 (what `docker run` makes of the Dockerfile's entry point), in a new
// PID namespace: PID 1 gets only the signals it handles, so SIGTERM and SIGHUP from outside
// must reach the supervisor's handlers; and every generation that exits is reaped (no zombie).
import { readFileSync } from 'node:fs'
import t from 'tap'
import { request } from '../helpers/http'
import { exitLine } from '../helpers/log-lines'
import { portOf, startSupervisor } from '../helpers/supervisor'
import { alive } from '../helpers/proc'

/** The host pids of the children of `pid`, each with its state (R, S, Z...). */
function children (pid: number): Array<{ pid: number, state: string }> {
  const list = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number)
  return list.map(child => ({ pid: child, state: readFileSync(`/proc/${child}/stat`, 'utf8').split(') ')[1]![0]! }))
}

t.test('as PID 1: SIGHUP reloads, exited generations are reaped, SIGTERM stops gracefully', async t => {
  const s = await startSupervisor({ pid1: true, pidFile: false })
  t.teardown(() => s.kill())
  const serving = s.lines.find(l => l.event === 'supervisor.serving')!
  t.equal(serving.pid, 1, 'the supervisor is PID 1 of its namespace')
  const [supervisor] = children(s.proc.pid!) // unshare's only child
  const port = await portOf(s)

  process.kill(supervisor!.pid, 'SIGHUP')
  const reloaded = await s.waitFor(l => l.event === 'supervisor.reload.ready', 'the reload')
  await s.waitFor(l => l.pid === reloaded.servingPid && l.event === 'predecessor.exited', 'generation 1 to exit')
  t.same((await request(port, '/')).body, { pid: reloaded.servingPid, generation: 2 })
  const left = children(supervisor!.pid)
  t.equal(left.length, 1, 'one generation is left: generation 1 was reaped')
  t.not(left[0]!.state, 'Z')

  process.kill(supervisor!.pid, 'SIGTERM')
  t.equal(await s.ended, 0, 'a graceful stop, exit 0')
  t.ok(s.lines.some(l => l.pid === reloaded.servingPid && exitLine(l, 'shutdown')), 'the serving generation shut down gracefully')
  t.notOk(alive(supervisor!.pid))
})
