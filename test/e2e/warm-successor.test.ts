// A successor that does not starve the server still serving, and is warm, with real processes:
// `successorNice` (its threads' nice values while it boots, read by the successor itself from
// /proc, and after it is ready, read from outside), standalone and under `run`; `warmup` (its
// requests are answered by the successor before it listens; one that throws fails the reload
// and the predecessor serves on).
import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { predecessorGone, reload, startApp } from '../helpers/app'
import { request } from '../helpers/http'
import { on } from '../helpers/log-lines'
import { servingPid, startSupervisor } from '../helpers/supervisor'

// a successor at a lower priority boots on whatever CPU the rest leaves it: at nice 10, beside two
// other suites (load 18-20), it did not boot in 90 s. The test uses nice 3 (about half a normal
// process's share), and more room than the usual 30 s
const SLOW_BOOT = 90_000

/** The nice value of each thread of `pid` (field 19 of /proc/<pid>/task/<tid>/stat). */
function threadNices (pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map(tid => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])
  })
}

const own = threadNices(process.pid)[0]!

t.test('successorNice: the successor boots 3 nice values lower than its predecessor, every thread, and serves at its predecessor\'s once ready', async t => {
  const app = await startApp({ SUCCESSOR_NICE: '3', READY_TIMEOUT: String(SLOW_BOOT) })
  t.teardown(() => app.kill())
  const first = app.proc.pid!
  const booting = (pid: number): Promise<{ nices: number[] }> =>
    app.waitFor(l => l.pid === pid && l.msg === 'boot: nice', `pid ${pid}'s boot nice values`) as unknown as Promise<{ nices: number[] }>
  t.same(new Set((await booting(first)).nices), new Set([own]), `generation 1 starts at the nice value of whoever started it (${own})`)

  const { successorPid } = await reload(app, first, SLOW_BOOT)
  const { nices } = await booting(successorPid)
  t.same(new Set(nices), new Set([Math.min(19, own + 3)]), `while it boots, each of its ${nices.length} threads has nice ${own + 3}`)
  t.same(new Set(threadNices(successorPid)), new Set([own]), 'once ready, every thread is back at its predecessor\'s')
  t.same((await request(app.port, '/')).body.pid, successorPid)

  // the next reload starts from there, not from 3 lower
  await predecessorGone(app, successorPid)
  const { successorPid: third } = await reload(app, successorPid, SLOW_BOOT)
  t.same(new Set((await booting(third)).nices), new Set([Math.min(19, own + 3)]), 'the next successor boots 3 lower than its predecessor, not 6')
  t.same(new Set(threadNices(third)), new Set([own]))
  await predecessorGone(app, third)
  await app.stop(third)
})

t.test('successorNice under run: the serving generation\'s option applies to the next generation the supervisor spawns', async t => {
  const s = await startSupervisor({ env: { SUCCESSOR_NICE: '7', QUIET: '1' } })
  t.teardown(() => s.kill())
  const first = servingPid(s)
  const from = s.lines.length
  process.kill(s.proc.pid!, 'SIGHUP')
  const ready = await s.waitFor(l => s.lines.indexOf(l) >= from && l.event === 'supervisor.reload.ready', 'the reload', from, SLOW_BOOT)
  const next = servingPid(s)
  t.not(next, first, `generation 2 (pid ${next}) serves; ${JSON.stringify(ready.msg)}`)
  const boot = await s.waitFor(l => l.pid === next && l.msg === 'boot: nice', 'its boot nice values') as unknown as { nices: number[] }
  t.same(new Set(boot.nices), new Set([Math.min(19, own + 7)]), 'it booted 7 nice values lower than the supervisor')
  t.same(new Set(threadNices(next)), new Set([own]), 'once ready, at the supervisor\'s')
  process.kill(s.proc.pid!, 'SIGTERM')
  t.equal(await s.ended, 0)
})

t.test('warmup: runs in each generation before it listens; its requests are answered by that process through inject(), before any client\'s', async t => {
  const app = await startApp({ WARMUP: 'requests' })
  t.teardown(() => app.kill())
  const first = app.proc.pid!
  // keep a client busy through the reload: its requests must not reach the successor before its warm-up ends
  let stop = false
  const client = (async () => {
    let n = 0
    while (!stop && n < 10_000) { await request(app.port, '/'); n++ }
    return n
  })()
  const { successorPid } = await reload(app, first)
  stop = true
  t.ok(await client > 0)
  // reload() resolves on the predecessor's line; the successor's own lines come on its own
  // output, possibly later: its `ready` is the last of those read below
  await app.waitFor(on('ready', { pid: successorPid }), 'the successor\'s ready line')
  for (const pid of [first, successorPid]) {
    const mine = app.lines.filter(l => l.pid === pid)
    const warm = mine.findIndex(l => l.msg === 'warmup: done')
    const listening = mine.findIndex(l => typeof l.msg === 'string' && l.msg.startsWith('Server listening at '))
    const ready = mine.findIndex(on('ready', { pid }))
    t.ok(warm >= 0 && warm < listening && listening < ready, `pid ${pid}: warm-up, then listening, then ready`)
    t.same(mine[warm]!.warmup, { requests: 20, answeredBy: [pid], clientRequests: 0 }, `pid ${pid}: 20 requests answered by itself, and no client's before`)
  }
  await predecessorGone(app, successorPid)
  await app.stop(successorPid)
})

t.test('warmup that throws in a successor: the reload fails with the warm-up\'s coded error, and the predecessor serves on', async t => {
  const app = await startApp({ WARMUP: 'throw' })
  t.teardown(() => app.kill())
  const first = app.proc.pid!
  process.kill(first, 'SIGUSR2')
  const failed = await app.waitFor(on('upgrade.failed', { pid: first }), 'the failed upgrade')
  t.equal(failed.code, 'FST_HOT_RESTART_SUCCESSOR_EXITED')
  t.match(failed.msg, /\[FST_HOT_RESTART_WARMUP_FAILED\]: fastify-hot-restart: the warm-up \(option `warmup`\) failed, so the app does not listen: the cache would not fill/,
    'the reason, with its code, as the successor reported it')
  t.same((await request(app.port, '/')).body, { pid: first, generation: 1 }, 'the predecessor serves on')
  await app.stop(first)
})
