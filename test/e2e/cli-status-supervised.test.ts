// `status` against a real supervisor (`run`): its pid, the serving workers, the reloads.
import t from 'tap'
import { EXIT } from '../../lib/cli'
import { cli, statusJson } from '../helpers/cli'
import { startSupervisor } from '../helpers/supervisor'

t.test('status of a supervisor: its pid, the serving workers, the reloads', async t => {
  const s = await startSupervisor({ args: ['--ready-timeout', '20000'] })
  t.teardown(() => s.kill())
  const supervisorPid = s.proc.pid!
  const before = await statusJson(s.pidFile)
  t.match(before, { pid: supervisorPid, supervised: true, generation: 1, state: 'serving', serving: [{ pid: Number, connections: 0 }], attempts: [] })
  const gen1 = before.serving[0]!.pid
  t.not(gen1, supervisorPid)

  const r = await cli('reload', '--pid-file', s.pidFile)
  t.equal(r.code, EXIT.ok, r.err)
  const after = await statusJson(s.pidFile)
  t.match(after, { pid: supervisorPid, generation: 2, state: 'serving' })
  t.not(after.serving[0]!.pid, gen1)
  t.match(after.attempts, [{ state: 'succeeded', generation: 2, successorPid: after.serving[0]!.pid, pid: supervisorPid }])
  for (const { pid } of after.draining) t.equal(pid, gen1, 'only generation 1 can be draining')
  process.kill(supervisorPid, 'SIGTERM')
  t.equal(await s.ended, 0)
})
