// One run's numbers from its records.
import t from 'tap'
const { summarizeRun } = require('../../bench/lib/summary.js')
const { reloadCostTable } = require('../../bench/lib/table.js')

const rec = {
  // warm-up, steady, in the window, steady again
  starts: [10, 200, 300, 1100, 1150, 1200, 1250, 3000, 3100],
  latencies: [50, 2, 4, 30, 40, 1500, 3, 2, 2],
  kinds: ['ok', 'ok', 'ok', 'ok', 'ECONNRESET', 'ok', 'non2xx', 'ok', 'ok'],
  details: { non2xx: { 503: 1 } }
}
const reloads = [{ triggeredAt: 1000, listeningAt: 1300, doneAt: 1400, drainMs: [100] }]

t.test('failures by class, requests in the windows, latency in and out', async t => {
  const s = summarizeRun(rec, reloads, 100)
  t.equal(s.requests, 8, 'the warm-up is left out')
  t.equal(s.failed, 2)
  t.same(s.failures, { non2xx: 1, ECONNRESET: 1, ECONNREFUSED: 0, EPIPE: 0, timeout: 0, other: 0 })
  t.same(s.details, { non2xx: { 503: 1 } })
  t.equal(s.inWindows, 4)
  t.equal(s.failedInWindows, 2)
  t.same(s.latencyWindow, { count: 2, p50: 30, p99: 1500, max: 1500, slow: 1 })
  t.same(s.latencyOutside, { count: 4, p50: 2, p99: 4, max: 4, slow: 0 })
  t.equal(s.latencyAll.count, 6)
  t.same(s.handoverMs, { p50: 300, p99: 300, max: 300 })
  t.same(s.drainMs, { p50: 100, p99: 100, max: 100 })
  t.equal(s.reloads, 1)
})

t.test('the window by phase: while the successor boots, while connections move, after', async t => {
  // in flight at the trigger, then one request in each phase, then one outside
  const phased = { starts: [900, 1100, 1350, 1600, 2500], latencies: [200, 7, 9, 11, 1], kinds: ['ok', 'ok', 'ok', 'ok', 'ok'], details: {} }
  const s = summarizeRun(phased, reloads)
  t.same(Object.fromEntries(Object.entries(s.latencyByPhase as Record<string, { count: number, max: number }>).map(([phase, l]) => [phase, [l.count, l.max]])),
    { boot: [2, 200], handover: [1, 9], after: [1, 11] })
  // the second reload's boot follows the first's tail
  const two = summarizeRun(phased, [...reloads, { triggeredAt: 2400, listeningAt: 2600, doneAt: 2700, drainMs: [] }])
  t.same(two.latencyByPhase.boot.count, 3)
})

t.test('a run without reloads: nothing in a window', async t => {
  const s = summarizeRun(rec, [])
  t.equal(s.requests, 9)
  t.equal(s.inWindows, 0)
  t.equal(s.latencyWindow.count, 0)
  t.ok(Number.isNaN(s.handoverMs.p50))
})

t.test('what a reload costs the processes: p50 and max of what each reload measured inside them', async t => {
  const measured = [
    { ...reloads[0], predecessorCpuMs: [40], predecessorStallMs: [12], predecessorBootStallMs: [5], successorStallMs: [30] },
    { triggeredAt: 2000, listeningAt: 2200, doneAt: 2300, drainMs: [50], predecessorCpuMs: [60], predecessorStallMs: [8], predecessorBootStallMs: [9], successorStallMs: [undefined] }
  ]
  const s = summarizeRun(rec, measured, 100)
  t.same(s.predecessorCpuMs, { p50: 40, max: 60 })
  t.same(s.predecessorStallMs, { p50: 8, max: 12 })
  t.same(s.predecessorBootStallMs, { p50: 5, max: 9 })
  t.same(s.successorStallMs, { p50: 30, max: 30 }, 'a reload that measured none is left out')
  t.equal(summarizeRun(rec, reloads, 100).predecessorCpuMs, undefined, 'undefined where the subject measures none')

  const steady = { subject: 'hot', workload: 'W1', reloads: 0, ...summarizeRun(rec, [], 100) }
  const text = reloadCostTable({ runs: [steady, { subject: 'hot', workload: 'W1', ...s }] })
  t.match(text, /\| predecessor CPU, ready -> exit, p50 \/ max \(ms\) \|/, 'the header')
  t.match(text, /\| hot \| W1 \| 1,500 \| 1,500 \(1x\) \| 200 \/ 300 \| 1,500 \(2\) \/ - \/ - \| 5 \/ 9 \| 40 \/ 60 \| 8 \/ 12 \| 30 \/ 30 \|/, 'one row per run with reloads')
  t.equal(reloadCostTable({ runs: [steady, { subject: 'naive', workload: 'W1', ...summarizeRun(rec, reloads, 100) }] }), '', 'no table when no run measured it')
})
