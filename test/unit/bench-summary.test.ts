// One run's numbers from its records.
import t from 'tap'
const { summarizeRun } = require('../../bench/lib/summary.js')

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

t.test('a run without reloads: nothing in a window', async t => {
  const s = summarizeRun(rec, [])
  t.equal(s.requests, 9)
  t.equal(s.inWindows, 0)
  t.equal(s.latencyWindow.count, 0)
  t.ok(Number.isNaN(s.handoverMs.p50))
})
