'use strict'
// One measured run (a subject under a workload, with or without reloads), the boot time of
// the bare app, and the throughput of the plugin against bare Fastify.
const { startLoad } = require('./client')
const { readNstat, nstatDelta, sampleProcess } = require('./procfs')
const { summarize, round } = require('./stats')
const { summarizeRun } = require('./summary')
const { WINDOW_TAIL_MS } = require('./windows')
const { boot, terminate, SUBJECTS } = require('./subjects')

const { sleep } = require('./bounded')

/**
 * Starts `subject`, loads it with `workload`, reloads it `reloads` times (0: a steady run of
 * `steadyMs`), stops it. `onProgress(text)` hears about each step.
 * @returns the run's summary, and its raw records for the timeline
 */
async function runOne (ctx, subject, workload, { reloads, steadyMs, gapMs, warmupMs }, onProgress = () => {}) {
  const nstatBefore = readNstat()
  const first = await subject.start()
  const t0 = performance.now()
  const load = startLoad(first.port, workload.load, t0)
  const generations = []
  const sample = () => { for (const pid of subject.serving()) generations.push({ generation: generations.length + 1, ...sampleProcess(pid) }) }
  const timings = []
  let end
  try {
    await sleep(warmupMs)
    if (reloads === 0) {
      await sleep(steadyMs)
    } else {
      const until = workload.durationMs === undefined ? Infinity : performance.now() + workload.durationMs
      while (timings.length < reloads && performance.now() < until) {
        if (!workload.backToBack) await sleep(gapMs)
        sample()
        const r = await subject.reload()
        timings.push(r)
        const rec = load.recorder
        onProgress(`reload ${timings.length}${Number.isFinite(reloads) ? '/' + reloads : ''}  handover ${Math.round(r.listeningAt - r.triggeredAt)} ms  requests ${rec.kinds.length}  failed ${rec.kinds.length - rec.kinds.filter(k => k === 'ok').length}`)
      }
      // the last window's tail
      await sleep(WINDOW_TAIL_MS)
    }
    sample()
  } finally {
    end = performance.now() - t0
    await load.stop()
  }
  await subject.stop()
  const rel = (r) => ({ ...r, triggeredAt: r.triggeredAt - t0, listeningAt: r.listeningAt - t0, doneAt: r.doneAt - t0 })
  const reloadsRel = timings.map(rel)
  const summary = summarizeRun(load.recorder, reloadsRel, warmupMs)
  return {
    summary: {
      ...summary,
      durationS: round((end - warmupMs) / 1000),
      generations,
      nstat: nstatDelta(nstatBefore, readNstat())
    },
    raw: { recorder: load.recorder, reloads: reloadsRel, from: warmupMs, end }
  }
}

/**
 * The app's boot time (spawn -> listening), `n` times, as `subject` (bare: plain Fastify; hot:
 * with the plugin); with `load`, while another app (fastify-hot-restart's) serves that load,
 * as a successor boots during a reload.
 */
async function measureBoot (ctx, n, load, subject = 'bare') {
  let busy
  if (load !== undefined) {
    const subject = SUBJECTS.hot(ctx)
    const first = await subject.start()
    busy = { subject, load: startLoad(first.port, load, performance.now()) }
    await sleep(500)
  }
  const times = []
  try {
    for (let i = 0; i < n; i++) {
      const started = performance.now()
      const p = await boot(ctx, subject)
      times.push(p.listeningAt - started)
      await terminate(ctx, p.pid)
    }
  } finally {
    if (busy !== undefined) {
      await busy.load.stop()
      await busy.subject.stop()
    }
  }
  const s = summarize(times, Infinity)
  return { runs: n, p50: round(s.p50), p99: round(s.p99), max: round(s.max), all: times.map(t => round(t)) }
}

/**
 * fastify-hot-restart's handover (signal -> the successor's listen() has resolved), `n`
 * reloads of one app with no load: the like-for-like comparison with the idle boot of
 * measureBoot (the workloads' handovers are measured under their load).
 */
async function measureHandover (ctx, n) {
  const subject = SUBJECTS.hot(ctx)
  await subject.start()
  const times = []
  try {
    for (let i = 0; i < n; i++) {
      const r = await subject.reload()
      times.push(r.listeningAt - r.triggeredAt)
    }
  } finally {
    await subject.stop()
  }
  const s = summarize(times, Infinity)
  return { runs: n, p50: round(s.p50), p99: round(s.p99), max: round(s.max), all: times.map(t => round(t)) }
}

/**
 * Steady throughput (requests/s) of the plugin's app against bare Fastify on the same routes,
 * the W1 load, `pairs` alternating runs of `ms` each.
 */
async function measureThroughput (ctx, load, pairs, ms) {
  const runs = { hot: [], bare: [] }
  for (let i = 0; i < pairs; i++) {
    for (const which of i % 2 === 0 ? ['bare', 'hot'] : ['hot', 'bare']) {
      const subject = which === 'hot' ? SUBJECTS.hot(ctx) : SUBJECTS.naive(ctx)
      const first = await subject.start()
      const t0 = performance.now()
      const l = startLoad(first.port, load, t0)
      await sleep(ms / 5)
      const from = performance.now() - t0
      await sleep(ms)
      const rec = await l.stop()
      await subject.stop()
      let ok = 0
      for (let j = 0; j < rec.starts.length; j++) if (rec.starts[j] >= from && rec.starts[j] < from + ms && rec.kinds[j] === 'ok') ok++
      runs[which].push(round(ok / (ms / 1000), 0))
    }
  }
  const total = (xs) => xs.reduce((a, b) => a + b, 0)
  const pairRatios = runs.hot.map((h, i) => h / runs.bare[i])
  return {
    pairs,
    ms,
    hotRps: runs.hot,
    bareRps: runs.bare,
    ratio: round(total(runs.hot) / total(runs.bare), 3),
    medianPairRatio: round(summarize(pairRatios, Infinity).p50, 3)
  }
}

module.exports = { runOne, measureBoot, measureHandover, measureThroughput }
