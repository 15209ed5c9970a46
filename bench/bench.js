'use strict'
// `npm run bench [-- --quick]`: every subject under every workload, with and without reloads,
// every request recorded; tables on the terminal, bench/results/<date>.json and an SVG timeline
// per subject beside it. Loopback only; bounded in time; kills what it started by pid. Exits 1
// if fastify-hot-restart failed a request (or the negative control saw no failure: the harness
// would be blind), 2 if the bench itself failed.
const { mkdirSync, mkdtempSync, rmSync, writeFileSync } = require('node:fs')
const os = require('node:os')
const { join, relative } = require('node:path')
const { parseArgs } = require('node:util')
const { runBounded } = require('./lib/bounded')
const { startReports } = require('./lib/reports')
const { SUBJECTS, NAMES: CONTROLS, killAll } = require('./lib/subjects')
const { pm2Subject, pm2Unavailable, killPm2, INSTANCES } = require('./lib/pm2')
const { WORKLOADS, MODES } = require('./lib/workloads')
const { runOne, measureBoot, measureHandover, measureThroughput } = require('./lib/run')
const { failuresTable, timingTable, reloadCostTable, goalsTable, goals } = require('./lib/table')
const { timelineSvg } = require('./lib/timeline')

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    subjects: { type: 'string', default: 'hot,naive,close,pm2' },
    workloads: { type: 'string' },
    reloads: { type: 'string' },
    'steady-ms': { type: 'string' },
    'no-extras': { type: 'boolean', default: false },
    out: { type: 'string', default: join(__dirname, 'results') },
    'limit-ms': { type: 'string' },
    // the open-loop workload's request rate (W2: 400 req/s); the tests use a lower one, which a
    // loaded machine still serves within the client's timeout
    rate: { type: 'string' }
  }
})
const mode = args.quick ? 'quick' : 'full'
const plan = { ...MODES[mode] }
if (args.workloads !== undefined) plan.workloads = args.workloads.split(',')
if (args.reloads !== undefined) plan.reloads = Number(args.reloads)
if (args['steady-ms'] !== undefined) plan.steadyMs = Number(args['steady-ms'])
if (args['limit-ms'] !== undefined) plan.limitMs = Number(args['limit-ms'])
if (args.rate !== undefined && !(Number(args.rate) > 0)) throw new Error(`--rate: expected a number of requests per second above 0, got ${args.rate}`)
/** The workload `w`, with the open-loop rate of --rate where one is given. */
function workloadOf (w) {
  const workload = WORKLOADS[w]
  if (args.rate === undefined || workload.load.rate === undefined) return workload
  const rate = Number(args.rate)
  return { ...workload, title: workload.title.replace(/at \d+ req\/s/, `at ${rate} req/s`), load: { ...workload.load, rate } }
}
const NAMES = {
  hot: 'fastify-hot-restart',
  drain: 'fastify-hot-restart (connectionHandover: false)',
  nice: 'fastify-hot-restart (successorNice: 10)',
  warm: 'fastify-hot-restart (warmup: 1,000 requests)',
  nicewarm: 'fastify-hot-restart (successorNice: 10, warmup: 1,000 requests)',
  naive: 'naive restart',
  close: 'server.close() drain',
  pm2: `pm2 reload (cluster, ${INSTANCES} workers)`,
  ...CONTROLS
}

const tty = process.stderr.isTTY
const progress = (text) => { if (tty) process.stderr.write(`\r\x1b[K${text}`) }
const say = (text) => { progress(''); process.stderr.write(text + '\n') }

const dir = mkdtempSync(join(os.tmpdir(), 'fhr-bench-'))
// no protocol variable of ours leaks into the first generation
const { FASTIFY_HOT_RESTART, ...env } = process.env
const ctx = { dir, env, spawned: new Set(), reports: undefined }
let cleaned
function cleanup () {
  cleaned ??= (async () => {
    if (ctx.reports !== undefined) killAll(ctx)
    await killPm2(ctx)
    if (ctx.reports !== undefined) await ctx.reports.close()
    rmSync(dir, { recursive: true, force: true })
  })()
  return cleaned
}

let results

async function main (progressed) {
  ctx.reports = await startReports(dir)
  results = {
    date: new Date().toISOString(),
    mode,
    plan,
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, platform: `${os.platform()} ${os.release()}`, loadavg: os.loadavg().map(l => Number(l.toFixed(2))) },
    workloads: Object.fromEntries(plan.workloads.map(w => [w, workloadOf(w).title])),
    subjects: {},
    runs: [],
    errors: []
  }
  const subjects = []
  for (const key of args.subjects.split(',')) {
    const unavailable = key === 'pm2' ? pm2Unavailable() : undefined
    results.subjects[NAMES[key]] = unavailable ?? 'measured'
    if (unavailable !== undefined) say(`${NAMES[key]}: skipped: ${unavailable}`)
    else subjects.push({ key, make: key === 'pm2' ? pm2Subject : SUBJECTS[key] })
  }
  if (!args['no-extras']) {
    progress('boot time of the bare app...')
    results.boot = await measureBoot(ctx, plan.boots)
    progressed()
    results.bootWithPlugin = await measureBoot(ctx, plan.boots, undefined, 'hot')
    progress('handover of fastify-hot-restart with no load...')
    progressed()
    results.handoverIdle = await measureHandover(ctx, plan.boots)
    progress('boot time of the app under the W1 load...')
    progressed()
    results.bootUnderLoad = await measureBoot(ctx, plan.boots, WORKLOADS.W1.load)
    results.bootWithPluginUnderLoad = await measureBoot(ctx, plan.boots, WORKLOADS.W1.load, 'hot')
    say(`app boot (spawn -> listening), p50: bare ${results.boot.p50} ms idle, ${results.bootUnderLoad.p50} ms while another app serves the W1 load; ` +
      `with the plugin ${results.bootWithPlugin.p50} ms idle, ${results.bootWithPluginUnderLoad.p50} ms under load; ` +
      `fastify-hot-restart's handover with no load ${results.handoverIdle.p50} ms`)
    progress('throughput: plugin vs bare Fastify...')
    progressed()
    results.throughput = await measureThroughput(ctx, WORKLOADS.W1.load, plan.throughputPairs, plan.throughputMs)
    say(`steady throughput, plugin / bare Fastify: ${(results.throughput.ratio * 100).toFixed(1)}% (median of pairs ${(results.throughput.medianPairRatio * 100).toFixed(1)}%)`)
  }
  const raw = {}
  for (const w of plan.workloads) {
    const workload = workloadOf(w)
    for (const { key, make } of subjects) {
      for (const reloads of [0, workload.backToBack ? Infinity : plan.reloads]) {
        if (reloads === 0 && (workload.steadyFrom !== undefined || plan.steadyMs === 0)) continue
        const label = `${NAMES[key]} ${w} ${reloads === 0 ? 'steady' : 'reloads'}`
        progress(`${label}...`)
        let outcome
        try {
          outcome = await runOne(ctx, make(ctx), workload, { ...plan, reloads }, text => { progressed(); progress(`${label}: ${text}`) })
        } catch (err) {
          // the run is lost, not the bench: kill what it left, say why, go on with the next
          say(`${label}: FAILED: ${err.message}`)
          results.errors.push({ subject: NAMES[key], workload: w, reloads: reloads === 0 ? 0 : plan.reloads, error: err.message })
          if (key === 'pm2') await killPm2(ctx)
          killAll(ctx)
          continue
        }
        const { summary, raw: r } = outcome
        results.runs.push({ subject: NAMES[key], workload: w, steadyFrom: workload.steadyFrom, ...summary })
        if (reloads > 0) (raw[NAMES[key]] ??= []).push({ label: `${w}: ${workload.title}`, ...r })
        say(`${label}: ${summary.requests} requests, ${summary.reloads} reloads, ${summary.failed} failed${summary.failed ? ' ' + JSON.stringify(summary.failures) : ''}`)
        progressed()
      }
    }
  }
  results.goals = goals(results)

  mkdirSync(args.out, { recursive: true })
  const stamp = results.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')
  const json = join(args.out, `${stamp}${mode === 'quick' ? '-quick' : ''}.json`)
  results.timelines = {}
  for (const [subject, panels] of Object.entries(raw)) {
    const file = json.replace(/\.json$/, `-${subject.replace(/[^a-z0-9]+/gi, '-').replace(/-+$/, '').toLowerCase()}.svg`)
    writeFileSync(file, timelineSvg(`${subject}: latency over time (${mode} mode, ${results.date.slice(0, 10)})`, panels))
    results.timelines[subject] = relative(args.out, file)
  }
  writeFileSync(json, JSON.stringify(results, null, 2) + '\n')

  printTables(results)
  for (const e of results.errors) console.log(`\nFAILED RUN: ${e.subject} ${e.workload}${e.reloads ? ' with reloads' : ' steady'}: ${e.error}`)
  console.log(`\nwritten: ${relative(process.cwd(), json)} and ${Object.keys(raw).length} SVG timelines beside it`)

  const ours = results.runs.filter(r => r.subject.startsWith(NAMES.hot))
  const control = results.runs.filter(r => r.subject === NAMES.close && r.reloads > 0)
  let code = results.errors.length > 0 ? 2 : 0
  if (ours.some(r => r.failed > 0)) { say('FAIL: fastify-hot-restart failed requests'); code = Math.max(code, 1) }
  if (control.length > 0 && control.every(r => r.failed === 0)) { say('FAIL: the negative control (server.close()) saw no failure: the harness may be blind'); code = Math.max(code, 1) }
  return code
}

/** The tables of what was measured (all of it, or what a run that gave up had done). */
function printTables (results) {
  const { machine: m } = results
  console.log(`\nfastify-hot-restart bench, ${mode} mode, ${results.date}; ${m.cpus} x ${m.cpu}, node ${m.node}; load average ${m.loadavg.join(' ')} at the start\n`)
  for (const [w, title] of Object.entries(results.workloads)) console.log(`- ${w}: ${title}`)
  console.log('\nFailed requests (with reloads):\n\n' + failuresTable(results))
  console.log('\nLatency and timings (steady = the same subject and workload without reloads):\n\n' + timingTable(results))
  const cost = reloadCostTable(results)
  if (cost !== '') console.log('\nWhat a reload costs the processes (measured inside them; stall: a 10 ms timer\'s lateness; CPU from /proc, 10 ms ticks):\n\n' + cost)
  if (results.goals?.length > 0) console.log('\nGoals (fastify-hot-restart):\n\n' + goalsTable(results))
}

// a reload or a run ends every few seconds, even on a loaded machine: two minutes without one
// is a stuck run; then the tables of the runs already done are printed
runBounded(main, cleanup, {
  limitMs: plan.limitMs,
  stallMs: 2 * 60000,
  onGiveUp: () => {
    if (results === undefined || results.runs.length === 0) return
    console.log('\nThe bench gave up; what it measured until then:')
    printTables(results)
  }
}, say)
