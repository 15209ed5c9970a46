// Supervised mode with a status file that cannot be written (issue 10 item 2): a reload still
// runs and a crash is still restarted; the failure is logged and never changes the state
// machine. A directory in place of `<pidFile>.status` makes every write fail, even as root.
import { mkdirSync, rmSync } from 'node:fs'
import t from 'tap'
import { request } from '../helpers/http'
import { portOf, servingPid, startSupervisor } from '../helpers/supervisor'

t.test('a status file that cannot be written: reloads and crash restarts go on, the failure is logged', async t => {
  const s = await startSupervisor({ env: { QUIET: '1' }, serving: false })
  t.teardown(() => s.kill())
  await s.waitFor(l => l.event === 'supervisor.serving', 'the supervisor to serve', 0, 90_000)
  const port = await portOf(s)
  rmSync(`${s.pidFile}.status`, { force: true })
  mkdirSync(`${s.pidFile}.status`)

  // (a) a reload: the write fails when it starts; the reload must still run and end
  let from = s.lines.length
  process.kill(s.proc.pid!, 'SIGHUP')
  const reloaded = await s.waitFor(l => l.event === 'supervisor.reload.ready' || l.event === 'supervisor.reload.failed', 'the reload', from, 90_000)
  t.equal(reloaded.event, 'supervisor.reload.ready', 'the reload succeeds')
  t.ok(s.lines.slice(from).some(l => l.event === 'supervisor.status-file.failed'), 'the failed write is logged')
  const gen2 = servingPid(s)
  t.same((await request(port, '/')).body, { pid: gen2, generation: 2 })

  // (b) a crash restart: the write after the restart fails; the supervisor must live on
  from = s.lines.length
  process.kill(gen2, 'SIGKILL')
  await s.waitFor(l => l.event === 'supervisor.restarted', 'the crash restart', from, 90_000)
  t.equal((await request(port, '/')).body.generation, 3, 'the restarted generation serves')

  from = s.lines.length
  process.kill(s.proc.pid!, 'SIGTERM')
  t.equal(await s.ended, 0, 'a graceful stop still exits 0')
})
