'use strict'
// One run's numbers from its raw records: failures by class, requests inside reload windows,
// latency in and out of the windows, handover and drain times.
const { CLASSES } = require('./classify')
const { summarize, round } = require('./stats')
const { reloadWindows, assignWindows } = require('./windows')

/** p50 and max of what the reloads measured under `key` (undefined when none did). */
function perReload (reloads, key) {
  const values = reloads.flatMap(r => r[key] ?? []).filter(v => typeof v === 'number')
  if (values.length === 0) return undefined
  const s = summarize(values, Infinity)
  return { p50: round(s.p50), max: round(s.max) }
}

const latency = (s) => ({ count: s.count, p50: round(s.p50, 2), p99: round(s.p99, 2), max: round(s.max, 1), slow: s.slow })

/**
 * The part of its reload a request inside a window started in: `boot` (from the trigger to the
 * successor's listen: the predecessor serves alone while its successor boots), `handover` (to
 * the predecessor's exit: connections move or drain) or `after` (the window's tail: the new
 * process alone). A request that started before the trigger and overlaps it counts as `boot`.
 * @param {number} start
 * @param {Array<{ triggeredAt: number, listeningAt: number, doneAt: number }>} reloads in time order
 */
function phaseOf (start, reloads) {
  let phase = 'boot'
  for (const r of reloads) {
    if (start < r.triggeredAt) break
    phase = start < r.listeningAt ? 'boot' : start <= r.doneAt ? 'handover' : 'after'
  }
  return phase
}

/**
 * @param {{ starts: number[], latencies: number[], kinds: string[], details: object }} rec
 *   every request (starts relative to the run's t0)
 * @param {Array<{ triggeredAt: number, listeningAt: number, doneAt: number, drainMs: number[], predecessorCpuMs?: number[], predecessorStallMs?: number[], predecessorBootStallMs?: number[], successorStallMs?: number[] }>} reloads
 *   relative to the same t0
 * @param {number} from requests that started earlier are the warm-up, left out
 */
function summarizeRun (rec, reloads, from = 0) {
  const windows = reloadWindows(reloads)
  const inside = assignWindows(rec.starts, rec.latencies, windows)
  const failures = Object.fromEntries(CLASSES.map(c => [c, 0]))
  const okIn = []
  const okOut = []
  const okByPhase = { boot: [], handover: [], after: [] }
  const ordered = [...reloads].sort((a, b) => a.triggeredAt - b.triggeredAt)
  let requests = 0
  let inWindows = 0
  let failedInWindows = 0
  for (let i = 0; i < rec.starts.length; i++) {
    if (rec.starts[i] < from) continue
    requests++
    const kind = rec.kinds[i]
    if (inside[i] === 1) inWindows++
    if (kind !== 'ok') {
      failures[kind]++
      if (inside[i] === 1) failedInWindows++
      continue
    }
    ;(inside[i] === 1 ? okIn : okOut).push(rec.latencies[i])
    if (inside[i] === 1) okByPhase[phaseOf(rec.starts[i], ordered)].push(rec.latencies[i])
  }
  const failed = CLASSES.reduce((n, c) => n + failures[c], 0)
  // connections the client had to open (a new one per request in W2; after the warm-up, a
  // kept-alive client opens one only when the server closed the last)
  const connects = (rec.connects ?? []).filter(at => at >= from)
  const inWindow = (at) => windows.some(w => at >= w.start && at <= w.end)
  const handover = summarize(reloads.map(r => r.listeningAt - r.triggeredAt), Infinity)
  const drain = summarize(reloads.flatMap(r => r.drainMs), Infinity)
  return {
    reloads: reloads.length,
    requests,
    failed,
    failures,
    details: rec.details,
    clientLagMs: rec.clientLag,
    newConnections: connects.length,
    newConnectionsInWindows: connects.filter(inWindow).length,
    inWindows,
    failedInWindows,
    latencyOutside: latency(summarize(okOut)),
    latencyWindow: latency(summarize(okIn)),
    // where in the window the slow requests are
    latencyByPhase: Object.fromEntries(Object.entries(okByPhase).map(([phase, l]) => [phase, latency(summarize(l))])),
    latencyAll: latency(summarize(okOut.concat(okIn))),
    handoverMs: { p50: round(handover.p50), p99: round(handover.p99), max: round(handover.max) },
    drainMs: { p50: round(drain.p50), p99: round(drain.p99), max: round(drain.max) },
    // measured inside the processes, where the subject does (see bench/app.js)
    predecessorCpuMs: perReload(reloads, 'predecessorCpuMs'),
    predecessorStallMs: perReload(reloads, 'predecessorStallMs'),
    predecessorBootStallMs: perReload(reloads, 'predecessorBootStallMs'),
    successorStallMs: perReload(reloads, 'successorStallMs')
  }
}

module.exports = { summarizeRun }
