'use strict'
// `node bench/rolling.js` (after `npm run build`): what `run --workers N --rolling` saves and
// costs against a plain reload of `run --workers N` (N new workers start beside the N old ones,
// which drain once all the new ones are ready), for N = 2 and 4, on the bench's app
// (bench/app.js) under a light load (4 kept-alive clients, 0-20 ms of think time; every request
// counted). Per reload:
//   - peak memory: the largest sum of the RSS of the app's processes (the supervisor's
//     children, read from /proc every 10 ms), and the most processes seen at once;
//   - reload time: from SIGHUP until every new worker listens and every old one has exited.
// Prints a table (medians of --reloads reloads) and writes bench/results/<date>-rolling.json.
// Loopback only; bounded (bench/lib/bounded.js); kills what it started. Exits 1 if a request
// failed, 2 if the bench itself failed.
const { spawn } = require('node:child_process')
const { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } = require('node:fs')
const os = require('node:os')
const { join, relative } = require('node:path')
const { parseArgs } = require('node:util')
const { runBounded, sleep } = require('./lib/bounded')
const { startLoad } = require('./lib/client')
const { sampleProcess } = require('./lib/procfs')
const { startReports } = require('./lib/reports')

const CLI = join(__dirname, '..', 'dist', 'cli.js')
const APP = join(__dirname, 'app.js')
const STEP_TIMEOUT = 120000

const { values: args } = parseArgs({
  options: {
    workers: { type: 'string', default: '2,4' },
    reloads: { type: 'string', default: '3' },
    out: { type: 'string', default: join(__dirname, 'results') }
  }
})
const counts = args.workers.split(',').map(Number)
const reloads = Number(args.reloads)
if (counts.some(n => !Number.isInteger(n) || n < 2 || n > 16) || !Number.isInteger(reloads) || reloads < 1 || reloads > 20) {
  process.stderr.write('usage: node bench/rolling.js [--workers 2,4] [--reloads 3] [--out <folder>]  (workers 2 to 16, reloads 1 to 20)\n')
  process.exit(2)
}

const say = (text) => process.stderr.write(text + '\n')
const dir = mkdtempSync(join(os.tmpdir(), 'fhr-rolling-'))
const { FASTIFY_HOT_RESTART, FASTIFY_HOT_RESTART_SUPERVISOR, ...env } = process.env
const spawned = new Set()
let reports

/** The children of `pid` (every thread's), from /proc. */
function children (pid) {
  const pids = []
  let tasks = []
  try { tasks = readdirSync(`/proc/${pid}/task`) } catch {}
  for (const task of tasks) {
    try { pids.push(...readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number)) } catch {}
  }
  return pids
}

/** Samples the app's processes every 10 ms until stopped: the peak of their summed RSS (MiB) and of their number. */
function sampleApp (supervisorPid) {
  let peakRssMiB = 0
  let peakProcesses = 0
  const tick = () => {
    const pids = children(supervisorPid)
    const kib = pids.reduce((sum, pid) => sum + (sampleProcess(pid).rssKiB ?? 0), 0)
    peakRssMiB = Math.max(peakRssMiB, kib / 1024)
    peakProcesses = Math.max(peakProcesses, pids.length)
  }
  tick()
  const timer = setInterval(tick, 10)
  return () => { clearInterval(timer); tick(); return { peakRssMiB: Math.round(peakRssMiB), peakProcesses } }
}

/** Starts `run --workers n [--rolling]` on the bench's app; resolves once the n workers listen. */
async function startSupervisor (n, rolling) {
  const log = openSync(join(dir, 'processes.log'), 'a')
  const since = performance.now()
  const child = spawn(process.execPath, [CLI, 'run', '--workers', String(n), ...(rolling ? ['--rolling'] : []), '--', process.execPath, APP], {
    env: { ...env, BENCH_SUBJECT: 'hot', BENCH_REPORT: reports.path, PORT: '0' },
    stdio: ['ignore', log, log]
  })
  closeSync(log)
  child.on('error', () => {})
  spawned.add(child.pid)
  const exited = new Promise(resolve => child.once('exit', () => { spawned.delete(child.pid); resolve() }))
  const workers = await Promise.race([
    reports.listening(n, since, `the ${n} workers`, new Set(), STEP_TIMEOUT),
    exited.then(() => { throw new Error(`the supervisor exited before its workers listened; see ${join(dir, 'processes.log')}`) })
  ])
  return { child, exited, workers }
}

/** One reload: SIGHUP, then until the n new workers listen and the old ones have exited. */
async function reload (supervisor, n) {
  const old = supervisor.workers
  const seen = new Set(reports.processes.keys())
  const stopSampling = sampleApp(supervisor.child.pid)
  const started = performance.now()
  process.kill(supervisor.child.pid, 'SIGHUP')
  supervisor.workers = await reports.listening(n, started, 'the new workers', seen, STEP_TIMEOUT * n)
  await Promise.all(old.map(p => reports.exited(p.pid, STEP_TIMEOUT * n)))
  const reloadMs = Math.round(performance.now() - started)
  await Promise.all(supervisor.workers.map(p => reports.settled(p.pid, STEP_TIMEOUT)))
  return { reloadMs, ...stopSampling() }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

async function main (progressed) {
  reports = await startReports(dir)
  const results = { date: new Date().toISOString(), loadAverage: os.loadavg().map(l => Math.round(l * 10) / 10), cpus: os.cpus().length, reloads, runs: [] }
  let failed = 0
  for (const n of counts) {
    for (const rolling of [false, true]) {
      const name = `--workers ${n}${rolling ? ' --rolling' : ''}`
      const supervisor = await startSupervisor(n, rolling)
      const load = startLoad(supervisor.workers[0].port, { clients: 4, thinkMs: 20 }, performance.now())
      await sleep(1000)
      const steady = sampleApp(supervisor.child.pid)
      await sleep(500)
      const { peakRssMiB: steadyRssMiB } = steady()
      const each = []
      for (let i = 0; i < reloads; i++) {
        each.push(await reload(supervisor, n))
        progressed()
        say(`${name}: reload ${i + 1}: ${JSON.stringify(each.at(-1))}`)
      }
      const rec = await load.stop()
      const errors = rec.kinds.filter(k => k !== 'ok').length
      failed += errors
      supervisor.child.kill('SIGTERM')
      await supervisor.exited
      results.runs.push({
        name,
        workers: n,
        rolling,
        steadyRssMiB,
        peakRssMiB: median(each.map(r => r.peakRssMiB)),
        peakProcesses: Math.max(...each.map(r => r.peakProcesses)),
        reloadMs: median(each.map(r => r.reloadMs)),
        requests: rec.kinds.length,
        failed: errors,
        each
      })
      progressed()
    }
  }
  results.loadAverageAfter = os.loadavg().map(l => Math.round(l * 10) / 10)
  mkdirSync(args.out, { recursive: true })
  const file = join(args.out, `${results.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}-rolling.json`)
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n')
  const rows = results.runs.map(r => `| \`run ${r.name}\` | ${r.steadyRssMiB} | ${r.peakRssMiB} | ${r.peakProcesses} | ${r.reloadMs} | ${r.failed} of ${r.requests} |`)
  process.stdout.write([
    `reload of the bench's app, median of ${reloads} (load average ${results.loadAverage.join(', ')}; ${results.cpus} cores)`,
    '',
    '| | RSS before, MiB | peak RSS, MiB | peak processes | reload, ms | failed requests |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    `written: ${relative(process.cwd(), file)}`,
    ''
  ].join('\n'))
  return failed > 0 ? 1 : 0
}

async function cleanup () {
  for (const pid of new Set([...spawned, ...(reports?.alive() ?? [])])) {
    try { process.kill(pid, 'SIGKILL') } catch {}
  }
  reports?.close()
  await sleep(100)
  rmSync(dir, { recursive: true, force: true })
}

runBounded(main, cleanup, { limitMs: 15 * 60000, stallMs: 60000 }, say)
