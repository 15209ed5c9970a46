// Crash restart with real processes: the serving generation dies (an uncaught error, then
// SIGKILL) under load; the supervisor starts the next one on the same sockets, so clients wait
// in the kernel's queue instead of being refused. Past --max-restarts it gives up (exit 1).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { request } from '../helpers/http'
import { PACE, startLoad } from '../helpers/load'
import { portOf, servingPid, startSupervisor, type Supervised } from '../helpers/supervisor'
import { alive } from '../helpers/proc'
import { tempDir } from '../helpers/app'

function restarted (s: Supervised, from: number): Promise<number> {
  return s.waitFor(l => l.event === 'supervisor.restarted', 'the restart', from).then(l => l.servingPid as number)
}

t.test('a crashed generation is restarted on the same sockets: no connection refused', async t => {
  const bootFile = join(tempDir('fhr-boot-'), 'boot')
  const s = await startSupervisor({ env: { QUIET: '1', BOOT_FILE: bootFile }, args: ['--max-restarts', '3'] })
  t.teardown(() => s.kill())
  const port = await portOf(s)
  const gen1 = servingPid(s)

  // an uncaught error: the generation drains and exits 1 (close-with-grace); the next one starts
  let load = startLoad(port, { keepAlive: 10, fresh: 10, interval: PACE })
  t.teardown(() => load.stop())
  let from = s.lines.length
  t.same((await request(port, '/crash')).body, { crashing: true })
  const gen2 = await restarted(s, from)
  t.match(s.lines.find(l => l.event === 'supervisor.crashed'), { pid: s.proc.pid, generationPid: gen1, exitCode: 1 })
  t.same((await request(port, '/')).body, { pid: gen2, generation: 2 })
  const graceful = await load.stop()
  t.comment(`crash restart (uncaught error): requests: ${graceful.ok + graceful.failed}, failed: ${graceful.failed} ${JSON.stringify(graceful.failures)}, longest wait: ${Math.round(graceful.maxMs)} ms`)
  t.equal(graceful.failed, 0, 'no request failed')
  t.ok((graceful.byPid[gen1] ?? 0) > 0 && (graceful.byPid[gen2] ?? 0) > 0, 'both generations served')

  // SIGKILL: what the killed process was answering is lost; nothing is refused
  load = startLoad(port, { keepAlive: 10, fresh: 10, interval: PACE })
  await s.waitFor(l => l.pid === gen2 && l.event === 'predecessor.exited', 'generation 2 to settle')
  await new Promise<void>(resolve => { const tick = setInterval(() => { if (load.outcome.ok > 200) { clearInterval(tick); resolve() } }, 10) })
  from = s.lines.length
  process.kill(gen2, 'SIGKILL')
  const gen3 = await restarted(s, from)
  t.same((await request(port, '/')).body, { pid: gen3, generation: 3 })
  const killed = await load.stop()
  t.comment(`crash restart (SIGKILL): requests: ${killed.ok + killed.failed}, refused: ${killed.failures.ECONNREFUSED ?? 0}, failed in flight on the killed process: ${killed.failed} ${JSON.stringify(killed.failures)}, longest wait: ${Math.round(killed.maxMs)} ms`)
  t.equal(killed.failures.ECONNREFUSED, undefined, 'no connection refused')
  t.ok(killed.failed <= 20, 'only the requests in flight on the killed process failed (one per client at most)')
  t.ok((killed.byPid[gen3] ?? 0) > 0, 'the restarted generation served')

  // a crash while a reload boots a successor that fails: the reload's failure starts the
  // restart; that fails to boot too (backoff), and the supervisor gives up
  writeFileSync(bootFile, 'throw')
  from = s.lines.length
  process.kill(s.proc.pid!, 'SIGHUP')
  await s.waitFor(l => l.event === 'supervisor.reload.started', 'the reload', from)
  process.kill(gen3, 'SIGKILL')
  t.equal(await s.ended, 1, 'the supervisor exits 1')
  t.ok(s.lines.some(l => l.event === 'supervisor.reload.failed'), 'the reload failed')
  const restartFailed = s.lines.filter(l => l.event === 'supervisor.restart.failed')
  t.equal(restartFailed.length, 1, 'a restart that failed to boot counts as a crash')
  t.match(s.lines.find(l => l.event === 'supervisor.gave-up'), { crashes: 4, maxRestarts: 3 })
  t.match(s.lines.findLast(l => l.event === 'supervisor.restarted'), { delayMs: 100 }, 'the second restart in a row waited')
  t.notOk(alive(gen3))
})
