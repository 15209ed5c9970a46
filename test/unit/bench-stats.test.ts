// Percentiles (nearest rank) and the latency summary of the bench.
import t from 'tap'
const { percentile, summarize, round } = require('../../bench/lib/stats.js')

t.test('nearest-rank percentiles', async t => {
  const hundred = Float64Array.from({ length: 100 }, (_, i) => i + 1)
  t.equal(percentile(hundred, 50), 50)
  t.equal(percentile(hundred, 99), 99)
  t.equal(percentile(hundred, 100), 100)
  t.equal(percentile(hundred, 0), 1, 'p0 is the smallest value')
  t.equal(percentile([7], 99), 7)
  t.equal(percentile([1, 2, 3], 50), 2)
  t.equal(percentile([1, 2, 3, 4], 50), 2, 'the smallest value with half at or below it')
  t.ok(Number.isNaN(percentile([], 50)), 'NaN for no values')
})

t.test('summarize sorts numerically and counts the slow ones', async t => {
  // a lexical sort would put 10 before 9
  const s = summarize([9, 10, 1, 1500, 2, 3000])
  t.same(s, { count: 6, p50: 9, p99: 3000, max: 3000, slow: 2 })
  t.equal(summarize([5, 5], 4).slow, 2, 'the threshold is a parameter')
  const empty = summarize([])
  t.equal(empty.count, 0)
  t.ok(Number.isNaN(empty.p50) && Number.isNaN(empty.max))
})

t.test('round keeps NaN', async t => {
  t.equal(round(1.234), 1.2)
  t.equal(round(1.235, 2), 1.24)
  t.ok(Number.isNaN(round(NaN)))
})
