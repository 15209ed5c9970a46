// `run --workers 2` with real processes under a concurrent load: both workers of a generation
// serve; a reload replaces both; a crashed worker is restarted alone while the other serves on;
// a reload whose workers cannot boot changes nothing and leaves no process behind.
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { EXIT, main } from '../../lib/cli'
import { Supervisor } from '../../lib/supervisor'
import { readPid } from '../../lib/pid-file'
import { fixture, tempDir, type LogLine } from '../helpers/app'
import { PACE, startLoad, type Outcome } from '../helpers/load'
import { exitLine } from '../helpers/log-lines'
import { alive, stat } from '../helpers/proc'
import { portOf, predecessorGone, startSupervisor, type Supervised } from '../helpers/supervisor'

// 5 generations of 2 workers and 3 more supervisors: 118 s at load average 17 with compiled
// fixtures, 130 s before them; tap's default budget per file is 120 s
t.setTimeout(360000)
// each test starts its own supervisors on port 0: two at a time
t.jobs = 2

async function cliReload (pidFile: string): Promise<{ code: number, out: string, err: string }> {
  let out = ''
  let err = ''
  const code = await main(['reload', '--pid-file', pidFile], { out: { write: (s: string) => { out += s } }, err: { write: (s: string) => { err += s } } })
  return { code, out, err }
}

/** Resolves once each of `pids` has answered at least one more request of the load than it had (polls the counts). */
function served (outcome: Outcome, pids: number[], what: string, timeout = 30000): Promise<void> {
  const before = pids.map(pid => outcome.byPid[pid] ?? 0)
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const tick = setInterval(() => {
      if (pids.every((pid, i) => (outcome.byPid[pid] ?? 0) > before[i]!)) {
        clearInterval(tick)
        resolve()
      } else if (performance.now() - started > timeout) {
        clearInterval(tick)
        reject(new Error(`timed out waiting for ${what} to serve: ${JSON.stringify(outcome.byPid)}`))
      }
    }, 10)
  })
}

/** The serving pids of the reload logged after line `from`, and the draining ones. */
async function reloaded (s: Supervised, from: number): Promise<{ serving: number[], draining: number[] }> {
  const line = await s.waitFor(l => l.event === 'supervisor.reload.ready', 'the reload', from)
  return { serving: line.servingPids as number[], draining: line.drainingPids as number[] }
}

t.test('--workers 2 under load: both workers serve, reloads replace both, a crashed worker is restarted alone, a broken reload changes nothing; 0 failed requests', async t => {
  const bootFile = join(tempDir('fhr-boot-'), 'boot')
  const s = await startSupervisor({ env: { QUIET: '1', BOOT_FILE: bootFile }, args: ['--workers', '2', '--ready-timeout', '120000'] })
  t.teardown(() => s.kill())
  const supervisorPid = s.proc.pid!
  const port = await portOf(s)
  const first = s.lines.find(l => l.event === 'supervisor.serving')!
  const gen1 = first.servingPids as number[]
  t.equal(gen1.length, 2, 'generation 1 is two processes')
  t.equal(first.servingPid, gen1[0])
  t.equal(s.lines.filter(l => typeof l.msg === 'string' && l.msg.startsWith('Server listening at ')).length, 2, 'both workers listen')

  const load = startLoad(port, { keepAlive: 20, fresh: 4, interval: PACE })
  t.teardown(() => load.stop())
  await served(load.outcome, gen1, 'both workers of generation 1')

  // two reloads through the CLI: each starts two new workers; both old ones drain and exit
  let serving = gen1
  const all = [...gen1]
  for (let i = 0; i < 2; i++) {
    const from = s.lines.length
    const r = await cliReload(s.pidFile)
    t.equal(r.code, EXIT.ok, r.err)
    const next = await reloaded(s, from)
    t.match(r.out, new RegExp(`^reloaded: generation ${i + 2} \\(pid ${next.serving[0]}\\) under supervisor ${supervisorPid} `))
    t.equal(next.serving.length, 2, `generation ${i + 2} is two processes`)
    t.same(next.draining, serving, `generation ${i + 1} drains`)
    t.equal(next.serving.filter(pid => serving.includes(pid)).length, 0, 'new processes')
    await Promise.all(next.serving.map(pid => predecessorGone(s, pid)))
    t.notOk(serving.some(alive), `both workers of generation ${i + 1} have exited`)
    await served(load.outcome, next.serving, `both workers of generation ${i + 2}`)
    serving = next.serving
    all.push(...serving)
  }

  // a crash (an uncaught error: the worker drains and exits 1): that worker alone is restarted
  let from = s.lines.length
  const crash = await fetch(`http://127.0.0.1:${port}/crash`)
  t.same(await crash.json(), { crashing: true })
  const exited = await s.waitFor(l => l.event === 'supervisor.crashed', 'the crash', from)
  const crashed = exited.generationPid as number
  t.ok(serving.includes(crashed), 'a worker of generation 3 crashed')
  t.equal(exited.exitCode, 1)
  const other = serving.find(pid => pid !== crashed)!
  const restarted = await s.waitFor(l => l.event === 'supervisor.restarted', 'the restart', from)
  const replacement = restarted.servingPid as number
  t.equal(restarted.generation, 4, 'the restart is the next generation')
  t.notOk(alive(crashed), 'the crashed worker has exited')
  t.ok(alive(other), 'the other worker was left alone')
  t.equal(s.lines.slice(from).filter(l => l.event === 'supervisor.worker-started').length, 1, 'one process started')
  await served(load.outcome, [other, replacement], 'the other worker and the restarted one')
  all.push(replacement)

  // the next reload drains exactly those two
  from = s.lines.length
  t.equal((await cliReload(s.pidFile)).code, EXIT.ok)
  const gen5 = await reloaded(s, from)
  t.same([...gen5.draining].sort(), [other, replacement].sort(), 'the serving generation was the other worker and the restarted one')
  await Promise.all(gen5.serving.map(pid => predecessorGone(s, pid)))
  await served(load.outcome, gen5.serving, 'both workers of generation 5')
  all.push(...gen5.serving)

  // a reload whose workers cannot boot: it fails, the serving workers serve on, none is left
  writeFileSync(bootFile, 'throw')
  from = s.lines.length
  const broken = await cliReload(s.pidFile)
  t.equal(broken.code, EXIT.failed)
  t.match(broken.err, /reload failed: .*exited with code 1 before it was ready: Error: boom at boot \(FST_HOT_RESTART_SUCCESSOR_EXITED\)/)
  rmSync(bootFile)
  const started = s.lines.slice(from).filter(l => l.event === 'supervisor.worker-started').map(l => l.generationPid as number)
  t.equal(started.length, 2, 'the reload started two workers')
  t.notOk(started.some(alive), 'neither is left')
  t.ok(gen5.serving.every(alive), 'the serving workers serve on')
  await served(load.outcome, gen5.serving, 'both workers of generation 5, after the failed reload')

  // a reload in which one new worker dies while the other still boots: that one is killed at
  // once (the reload does not wait for it to boot or time out)
  writeFileSync(bootFile, 'hold')
  from = s.lines.length
  const reloadingA = cliReload(s.pidFile)
  const heldA = await s.waitFor(l => l.msg === 'boot: holding', 'a new worker', from)
  const otherA = await s.waitFor(l => l.msg === 'boot: holding' && l.pid !== heldA.pid, 'the other new worker', from)
  process.kill(heldA.pid, 'SIGKILL')
  const failedA = await reloadingA
  t.equal(failedA.code, EXIT.failed)
  t.match(failedA.err, `the successor (pid ${heldA.pid}) was killed by SIGKILL before it was ready`)
  t.notOk(alive(otherA.pid), 'the worker still booting was killed, not waited for')
  t.ok(gen5.serving.every(alive), 'the serving workers serve on')

  // a reload in which one new worker dies and the other has become ready: the ready one, which
  // accepted connections meanwhile, is shut down gracefully
  from = s.lines.length
  const reloading = cliReload(s.pidFile)
  const held = await s.waitFor(l => l.msg === 'boot: holding', 'a new worker', from)
  const other2 = await s.waitFor(l => l.msg === 'boot: holding' && l.pid !== held.pid, 'the other new worker', from)
  rmSync(`${bootFile}.${other2.pid}`)
  await s.waitFor(l => l.pid === other2.pid && l.event === 'ready', 'the other new worker to be ready', from)
  process.kill(held.pid, 'SIGKILL')
  rmSync(bootFile)
  const mixed = await reloading
  t.equal(mixed.code, EXIT.failed)
  t.match(mixed.err, `reload failed: fastify-hot-restart: the successor (pid ${held.pid}) was killed by SIGKILL before it was ready (FST_HOT_RESTART_SUCCESSOR_EXITED)`)
  t.ok(s.lines.some(l => l.pid === other2.pid && l.event === 'ready'), 'the other one was ready')
  await s.waitFor(l => l.pid === other2.pid && exitLine(l, 'shutdown'), 'the ready worker of the failed reload to shut down', from)
  t.ok(gen5.serving.every(alive), 'the serving workers serve on')
  await served(load.outcome, gen5.serving, 'both workers of generation 5, after the second failed reload')
  all.push(other2.pid)

  const outcome = await load.stop()
  t.comment(`--workers 2: 3 reloads (+3 failed), 1 crash restart, requests: ${outcome.ok + outcome.failed}, failed: ${outcome.failed} ${JSON.stringify(outcome.failures)}, by pid: ${JSON.stringify(outcome.byPid)}`)
  t.equal(outcome.failed, 0, 'no request failed')
  for (const pid of all) if (pid !== other2.pid) t.ok((outcome.byPid[pid] ?? 0) > 0, `pid ${pid} served requests`)
  t.equal(readPid(s.pidFile), supervisorPid, 'the pid file still names the supervisor')

  from = s.lines.length
  process.kill(supervisorPid, 'SIGTERM')
  t.equal(await s.ended, 0, 'SIGTERM: the supervisor exits 0')
  t.notOk([...all, ...started, held.pid, heldA.pid, otherA.pid].some(alive), 'no worker is left')
  t.same(s.lines.slice(from).filter(l => exitLine(l, 'shutdown')).map(l => l.pid).sort(), [...gen5.serving].sort(), 'both serving workers shut down gracefully')
})

t.test('--workers 2: a worker of generation 1 that fails, or exits while the other boots: the start fails, exit 1, none is left', async t => {
  const bootFile = join(tempDir('fhr-boot-'), 'boot')

  // the first worker binds (it ignores BOOT_FILE, as a first generation), the second inherits and throws
  writeFileSync(bootFile, 'throw')
  let s = await startSupervisor({ env: { BOOT_FILE: bootFile }, args: ['--workers', '2'], serving: false })
  t.teardown(() => s.kill())
  t.equal(await s.ended, 1, 'a worker that throws: exit 1')
  let [first, second] = s.lines.filter(l => l.event === 'supervisor.worker-started').map(l => l.generationPid as number)
  t.match(s.lines.find(l => l.event === 'supervisor.start-failed'),
    { msg: `hot-restart supervisor: the first generation failed to start: fastify-hot-restart: the successor (pid ${second}) exited with code 1 before it was ready: Error: boom at boot` })
  t.ok(s.lines.some(l => l.pid === first && exitLine(l, 'shutdown')), 'the ready worker was shut down gracefully')
  t.notOk(alive(first!) || alive(second!))

  // the first worker is ready, then dies (killed, or crashed) while the second holds its boot
  for (const death of ['SIGKILL', 'crash'] as const) {
    writeFileSync(bootFile, 'hold')
    s = await startSupervisor({ env: { BOOT_FILE: bootFile }, args: ['--workers', '2'], serving: false })
    t.teardown(() => s.kill())
    second = (await s.waitFor(l => l.msg === 'boot: holding', 'the second worker')).pid
    first = s.lines.find(l => l.event === 'supervisor.worker-started')!.generationPid as number
    await s.waitFor(l => l.pid === first && l.event === 'ready', 'the first worker to be ready')
    // its upgrade request follows its ready message on the channel: once refused, the supervisor knows it is ready
    process.kill(first, 'SIGUSR2')
    await s.waitFor(l => l.code === 'FST_HOT_RESTART_NOT_READY' && l.trigger === `generation 1 (pid ${first})`, 'the refusal')
    if (death === 'SIGKILL') process.kill(first, 'SIGKILL')
    // the first worker alone accepts (the second has not listened yet): an uncaught error, exit 1
    else t.same(await (await fetch(`http://127.0.0.1:${await portOf(s)}/crash`)).json(), { crashing: true })
    // reaped: the supervisor has seen it exit
    await new Promise<void>(resolve => { const tick = setInterval(() => { if (stat(first!) === undefined) { clearInterval(tick); resolve() } }, 10) })
    rmSync(bootFile)
    t.equal(await s.ended, 1, `a worker that died (${death}) while the other booted: exit 1`)
    t.match(s.lines.find(l => l.event === 'supervisor.start-failed'),
      { msg: `the successor (pid ${first}) ${death === 'SIGKILL' ? 'was killed by SIGKILL' : 'exited with code 1'} before it was ready: it had said ready, but a generation is ready once all its workers are, and the others were still booting` })
    t.ok(s.lines.some(l => l.pid === second && exitLine(l, 'shutdown')), 'the other worker, ready, was shut down gracefully')
    t.notOk(alive(second!))
  }
})

t.test('--workers 2: both workers crash at once: one restart starts both', async t => {
  const s = await startSupervisor({ env: { QUIET: '1' }, args: ['--workers', '2'] })
  t.teardown(() => s.kill())
  const port = await portOf(s)
  const [a, b] = s.lines.find(l => l.event === 'supervisor.serving')!.servingPids as number[]
  const restarted = (l: LogLine): boolean => l.event === 'supervisor.restarted'
  let from = s.lines.length
  process.kill(a!, 'SIGKILL')
  const a2 = (await s.waitFor(restarted, 'the first restart', from)).servingPid as number
  // the next crash waits 100 ms (backoff); the one after it, meanwhile, joins that restart
  from = s.lines.length
  process.kill(b!, 'SIGKILL')
  process.kill(a2, 'SIGKILL')
  const r1 = await s.waitFor(restarted, 'a restart', from)
  const r2 = await s.waitFor(l => restarted(l) && l.servingPid !== r1.servingPid, 'the other restart', from)
  t.same([r1.delayMs, r2.delayMs], [100, 100], 'both started after the one backoff')
  const load = startLoad(port, { keepAlive: 4, fresh: 2, interval: PACE })
  t.teardown(() => load.stop())
  await served(load.outcome, [r1.servingPid as number, r2.servingPid as number], 'both restarted workers')
  const outcome = await load.stop()
  t.equal(outcome.failed, 0)
  process.kill(s.proc.pid!, 'SIGTERM')
  t.equal(await s.ended, 0)
})

t.test('Supervisor defaults: one worker per generation, binding its own sockets', async t => {
  const lines: Array<{ obj: Record<string, unknown>, msg: string }> = []
  const at = (obj: object, msg: string): void => { lines.push({ obj: obj as Record<string, unknown>, msg }) }
  const supervisor = new Supervisor({
    command: process.execPath,
    args: [fixture('app.ts')],
    cwd: process.cwd(),
    pidFile: undefined,
    readyTimeout: 30000,
    maxRestarts: 0,
    log: { info: at, warn: at, error: at }
  })
  t.teardown(() => supervisor.force())
  await supervisor.start()
  const serving = lines.find(l => l.obj.event === 'supervisor.serving')!
  t.equal((serving.obj.servingPids as number[]).length, 1, 'one worker')
  t.equal(serving.obj.sockets, 1, 'the socket it bound')
  await supervisor.stop()
  t.equal(await supervisor.done, 0)
})
