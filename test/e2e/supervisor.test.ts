// Supervised mode with real processes: the CLI's `run` starts the fixture app; reloads through
// the CLI, SIGHUP and the app's upgrade() go through the supervisor, whose pid never changes;
// refusals and a broken successor change nothing; every request of a concurrent load succeeds;
// SIGTERM stops everything gracefully.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import t from 'tap'
import { EXIT, main } from '../../lib/cli'
import { readPid } from '../../lib/pid-file'
import { request } from '../helpers/http'
import { PACE, startLoad } from '../helpers/load'
import { startNotifySocket } from '../helpers/notify-socket'
import { portOf, predecessorGone, servingPid, startSupervisor } from '../helpers/supervisor'
import { alive } from '../helpers/proc'
import { tempDir } from '../helpers/app'

async function cliReload (pidFile: string): Promise<{ code: number, out: string, err: string }> {
  let out = ''
  let err = ''
  const code = await main(['reload', '--pid-file', pidFile], { out: { write: (s: string) => { out += s } }, err: { write: (s: string) => { err += s } } })
  return { code, out, err }
}

t.test('supervised reloads under load: stable pid, 0 failed requests; refusals and a broken successor change nothing', async t => {
  const bootFile = join(tempDir('fhr-boot-'), 'boot')
  const notify = await startNotifySocket()
  t.teardown(() => notify.close())
  const s = await startSupervisor({ env: { QUIET: '1', BOOT_FILE: bootFile, NOTIFY_SOCKET: notify.path }, args: ['--ready-timeout', '20000'], serving: false })
  t.teardown(() => s.kill())
  const supervisorPid = s.proc.pid!

  // a reload before generation 1 is ready is refused
  await s.waitFor(l => l.event === 'supervisor.starting', 'the supervisor to start')
  process.kill(supervisorPid, 'SIGHUP')
  await s.waitFor(l => l.code === 'FST_HOT_RESTART_NOT_READY' && l.pid === supervisorPid, 'the refusal before ready')
  await s.waitFor(l => l.event === 'supervisor.serving', 'the supervisor to serve')
  t.equal(readPid(s.pidFile), supervisorPid, 'the pid file names the supervisor')
  const port = await portOf(s)
  const gen1 = servingPid(s)
  t.same((await request(port, '/')).body, { pid: gen1, generation: 1 })
  const load = startLoad(port, { keepAlive: 20, fresh: 2, interval: PACE })
  t.teardown(() => load.stop())

  // 1 -> 2 through the CLI: it waits for the outcome and says it
  const r2 = await cliReload(s.pidFile)
  t.equal(r2.code, EXIT.ok, r2.err)
  const m = /^reloaded: generation 2 \(pid (\d+)\) under supervisor (\d+) in \d+ ms\n$/.exec(r2.out)
  t.ok(m, r2.out)
  const gen2 = Number(m![1])
  t.equal(Number(m![2]), supervisorPid)
  t.equal((await predecessorGone(s, gen2)).predecessorPid, gen1, 'generation 2 learns that generation 1 has exited')
  t.notOk(alive(gen1), 'generation 1 has exited')
  const fds = readdirSync(`/proc/${supervisorPid}/fd`).length

  // 2 -> 3 on SIGHUP; the app's own upgrade() meanwhile is refused: one reload at a time
  let from = s.lines.length
  process.kill(supervisorPid, 'SIGHUP')
  await s.waitFor(l => l.event === 'supervisor.reload.started', 'the SIGHUP reload', from)
  const busy = await request(port, '/upgrade', { method: 'POST' })
  t.equal(busy.status, 500)
  t.equal(busy.body.code, 'FST_HOT_RESTART_UPGRADE_IN_PROGRESS')
  const reloaded3 = await s.waitFor(l => l.event === 'supervisor.reload.ready', 'generation 3', from)
  const gen3 = reloaded3.servingPid as number
  t.equal(reloaded3.drainingPid, gen2)
  await predecessorGone(s, gen3)

  // 3 -> 4 through the app's upgrade(): the supervisor runs it and answers
  const up = await request(port, '/upgrade', { method: 'POST' })
  t.equal(up.status, 200)
  t.match(up.body, { generation: 4, pid: Number })
  const gen4 = up.body.pid as number
  await s.waitFor(l => l.servingPid === gen4, 'the supervisor to log generation 4')
  await predecessorGone(s, gen4)

  // a request in flight keeps generation 4 draining after 4 -> 5: a reload then is refused
  // on a connection that generation 4 accepted (it alone serves now)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  t.equal((await request(port, '/', { agent })).body.pid, gen4)
  const held = request(port, '/hold?ms=1500', { agent })
  const r5 = await cliReload(s.pidFile)
  t.equal(r5.code, EXIT.ok, r5.err)
  const gen5 = Number(/\(pid (\d+)\)/.exec(r5.out)?.[1])
  const draining = await cliReload(s.pidFile)
  t.equal(draining.code, EXIT.failed)
  t.match(draining.err, new RegExp(`reload failed: .*predecessor \\(pid ${gen4}\\) is still draining.*\\(FST_HOT_RESTART_PREDECESSOR_DRAINING\\)`))
  t.same((await held).body, { pid: gen4, generation: 4, ms: 1500 }, 'the held request was answered by the draining generation')
  agent.destroy()
  await predecessorGone(s, gen5)
  t.equal(readdirSync(`/proc/${supervisorPid}/fd`).length, fds, 'the supervisor holds as many fds with generation 5 as with generation 2')

  // a successor that cannot boot is killed; generation 5 serves on
  writeFileSync(bootFile, 'throw')
  const broken = await cliReload(s.pidFile)
  t.equal(broken.code, EXIT.failed)
  t.match(broken.err, /reload failed: .*exited with code 1 before it was ready: Error: boom at boot \(FST_HOT_RESTART_SUCCESSOR_EXITED\)/)
  rmSync(bootFile)
  t.same((await request(port, '/')).body, { pid: gen5, generation: 5 })

  const outcome = await load.stop()
  t.comment(`supervised reloads: 4 (+1 broken successor, 3 refused), requests: ${outcome.ok + outcome.failed}, failed: ${outcome.failed} ${JSON.stringify(outcome.failures)}`)
  t.equal(outcome.failed, 0, 'no request failed')
  t.ok(outcome.ok > 500, 'the load ran')
  for (const pid of [gen1, gen2, gen3, gen4, gen5]) t.ok((outcome.byPid[pid] ?? 0) > 0, `generation pid ${pid} served requests`)
  t.equal(readPid(s.pidFile), supervisorPid, 'the pid file still names the supervisor')

  // SIGTERM while a successor boots: it is stopped; the serving generation drains and runs its
  // atExit hooks; everything exits 0
  writeFileSync(bootFile, 'hang')
  from = s.lines.length
  process.kill(supervisorPid, 'SIGHUP')
  const hanging = await s.waitFor(l => l.msg === 'boot: hanging', 'a successor that hangs', from)
  process.kill(supervisorPid, 'SIGTERM')
  await s.waitFor(l => l.event === 'supervisor.stopping', 'the stop', from)
  // a reload asked of a supervisor that stops: the CLI follows it until it is gone
  const late = await cliReload(s.pidFile)
  t.equal(late.code, EXIT.failed)
  t.match(late.err, new RegExp(`reload failed: the server \\(pid ${supervisorPid}\\) exited during the reload`))
  t.equal(await s.ended, 0, 'the supervisor exits 0')
  t.notOk(alive(gen5) || alive(hanging.pid), 'no generation is left')
  t.same(readFileSync(s.atExitFile, 'utf8').trim().split('\n').map(Number), [gen1, gen2, gen3, gen4, gen5], 'atExit ran once in every generation')
  t.equal(readPid(s.pidFile), 'missing', 'the pid file is removed')

  // systemd (Type=notify or notify-reload) heard from the supervisor only, whose pid is stable
  await notify.waitFor(n => n.notify === 'STOPPING=1', 'STOPPING=1')
  const told = notify.notifications.map(n => n.notify.replace(/MONOTONIC_USEC=\d+/, 'MONOTONIC_USEC=<t>'))
  const reloading = 'RELOADING=1\nMONOTONIC_USEC=<t>'
  t.same(told, ['READY=1', ...Array(5).fill([reloading, 'READY=1']).flat(), reloading, 'STOPPING=1'],
    'READY=1 once serving; RELOADING=1 then READY=1 around each reload, failed or not; STOPPING=1')
})
