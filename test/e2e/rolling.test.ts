// `run --workers 2 --rolling` with real processes: under a polling load (kept-alive clients and a
// client that opens a new connection per request), a rolling reload replaces the two workers one
// at a time with 0 failed requests, and at no moment are there more than N + 1 = 3 processes of
// the app (the supervisor's children, sampled from /proc every few ms, and the order of the
// supervisor's log: a new worker starts only once the old one it follows has exited). A new
// worker that fails to boot midway stops the roll: the new worker already ready and the old one
// not yet replaced serve on, still with 0 failed requests, and the next reload replaces both.
// The order of a roll in every corner (a crash, a stop meanwhile): test/unit/rolling.test.ts.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { tempDir } from '../helpers/app'
import { cli, statusJson } from '../helpers/cli'
import { PACE, startLoad } from '../helpers/load'
import { on } from '../helpers/log-lines'
import { portOf, startSupervisor, type Supervised } from '../helpers/supervisor'

// two rolling reloads of two workers, each a boot and a drain at a time, at load average 10
t.setTimeout(300_000)

/** The children of `pid` (every thread's), from /proc. */
function children (pid: number): number[] {
  const pids: number[] = []
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try { pids.push(...readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number)) } catch {}
  }
  return pids
}

/** Samples the number of the supervisor's children every 2 ms until stopped; resolves with the largest. */
function sampleChildren (s: Supervised): { stop: () => { max: number, samples: number } } {
  let max = 0
  let samples = 0
  const timer = setInterval(() => {
    max = Math.max(max, children(s.proc.pid!).length)
    samples++
  }, 2)
  return { stop: () => { clearInterval(timer); return { max, samples } } }
}

/** The pids of the workers the supervisor started after line `from`, in order. */
const startedAfter = (s: Supervised, from: number): number[] =>
  s.lines.slice(from).filter(on('supervisor.worker-started')).map(l => l.generationPid as number)

t.test('--workers 2 --rolling: one worker at a time, at most 3 processes, 0 failed requests; a worker that fails midway stops the roll and the others serve on', async t => {
  const bootFile = join(tempDir('fhr-boot-'), 'boot')
  const s = await startSupervisor({ env: { QUIET: '1', BOOT_FILE: bootFile }, args: ['--workers', '2', '--rolling', '--ready-timeout', '120000'] })
  t.teardown(() => s.kill())
  const port = await portOf(s)
  const gen1 = s.lines.find(on('supervisor.serving'))!.servingPids as number[]
  const load = startLoad(port, { keepAlive: 8, fresh: 2, interval: PACE })
  t.teardown(() => load.stop())

  // a rolling reload
  let from = s.lines.length
  let sampler = sampleChildren(s)
  const reloaded = await cli('reload', '--pid-file', s.pidFile)
  t.equal(reloaded.code, 0, reloaded.err)
  await s.waitFor(on('supervisor.reload.ready'), 'the reload', from, 120_000)
  const { max, samples } = sampler.stop()
  t.ok(max <= 3, `at most 3 processes of the app (N + 1) in ${samples} samples: ${max}`)
  const gen2 = startedAfter(s, from)
  t.equal(gen2.length, 2, 'two new workers')
  const steps = s.lines.slice(from).filter(on('supervisor.roll.replaced'))
  t.same(steps.map(l => [l.step, l.replacedPid, l.servingPid]), [[1, gen1[0], gen2[0]], [2, gen1[1], gen2[1]]], 'each old worker drains once a new one is ready')
  // the supervisor's own lines, in its order: the first step ends when the old worker has exited
  const lines = s.lines.slice(from).filter(l => l.pid === s.proc.pid)
  const secondStarted = lines.findIndex(l => l.event === 'supervisor.worker-started' && l.generationPid === gen2[1])
  const firstReplaced = lines.findIndex(l => l.event === 'supervisor.roll.replaced' && l.step === 1)
  t.ok(firstReplaced !== -1 && firstReplaced < secondStarted, 'the second new worker starts once the first old one has exited')
  t.same((await statusJson(s.pidFile)).serving.map(p => p.pid), gen2)

  // a roll that stops midway: the first new worker boots; every later boot throws
  writeFileSync(bootFile, 'hold')
  from = s.lines.length
  sampler = sampleChildren(s)
  const failing = cli('reload', '--pid-file', s.pidFile)
  const holding = await s.waitFor(l => l.msg === 'boot: holding', 'the first new worker to boot', from, 60_000)
  writeFileSync(bootFile, 'throw')
  rmSync(`${bootFile}.${holding.pid}`)
  const failed = await failing
  t.equal(failed.code, 1)
  t.match(failed.err, /^reload failed: .*the successor \(pid \d+\) exited with code 1 before it was ready/)
  t.ok(sampler.stop().max <= 3, 'at most 3 processes')
  const [n1, n2] = startedAfter(s, from)
  t.equal(n1, holding.pid)
  await s.waitFor(l => l.event === 'supervisor.roll.replaced' && l.servingPid === n1, 'the first step', from)
  t.same((await statusJson(s.pidFile)).serving.map(p => p.pid), [n1, gen2[1]], 'the new worker and the old one not yet replaced serve')
  const before = { ...load.outcome.byPid }
  for (let i = 0; i < 3000 && !(load.outcome.byPid[n1!]! > (before[n1!] ?? 0) && load.outcome.byPid[gen2[1]!]! > before[gen2[1]!]!); i++) await new Promise(resolve => setTimeout(resolve, 10))
  t.ok(load.outcome.byPid[n1!]! > (before[n1!] ?? 0) && load.outcome.byPid[gen2[1]!]! > before[gen2[1]!]!, 'both answer')
  t.notOk(s.lines.some(l => l.event === 'exit' && l.pid === gen2[1]), 'the old worker was not told to drain')
  t.notOk(n2 === undefined, 'the second new worker was started, and failed')

  // the next reload replaces both
  rmSync(bootFile)
  from = s.lines.length
  t.equal((await cli('reload', '--pid-file', s.pidFile)).code, 0)
  await s.waitFor(on('supervisor.reload.ready'), 'the reload', from)
  const replaced = s.lines.slice(from).filter(on('supervisor.roll.replaced')).map(l => l.replacedPid)
  t.same(new Set(replaced), new Set([n1, gen2[1]]), 'the next reload replaces the new worker and the old one')

  const outcome = await load.stop()
  t.equal(outcome.failed, 0, `0 failed of ${outcome.ok + outcome.failed} requests across three rolling reloads: ${JSON.stringify(outcome.failures)}`)
  s.proc.kill('SIGTERM')
  t.equal(await s.ended, 0)
})
