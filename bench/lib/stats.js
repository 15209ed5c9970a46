'use strict'
// Percentiles and the latency summary the tables show.

/**
 * The nearest-rank percentile of an ascending array: the smallest value with at least `p`% of
 * the values at or below it. NaN for an empty array.
 * @param {ArrayLike<number>} sorted ascending
 * @param {number} p 0 to 100
 */
function percentile (sorted, p) {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]
}

/**
 * p50, p99 and max of `values` (ms), and how many exceed `slowMs`.
 * @param {ArrayLike<number>} values in any order
 */
function summarize (values, slowMs = 1000) {
  const sorted = Float64Array.from(values).sort()
  let slow = 0
  for (const v of sorted) if (v > slowMs) slow++
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length === 0 ? NaN : sorted[sorted.length - 1],
    slow
  }
}

/** Rounds to `digits` decimals; keeps NaN (shown as "-"). */
function round (n, digits = 1) {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

module.exports = { percentile, summarize, round }
