'use strict'
// `npm run bench:workers`: the same app (bench/app.js) on 2 worker processes, three ways, side
// by side in one run, rounds alternating the order:
//   - `fastify-hot-restart run --workers 2`: the workers share the listening socket and the
//     kernel hands each connection to one of them;
//   - Node's cluster module: the primary accepts every connection and passes it to a worker in
//     turn (round-robin, the default on Linux);
//   - pm2 cluster mode (Node's cluster inside pm2's daemon), if installed (bench/package.json);
// and `run --workers 1` as the one-process baseline. Loads: 100 keep-alive clients, and 50
// closed loops that open a new connection per request (where accepting costs the most).
// Reported: requests/s per subject and load (every round, and the median).
// Then `run --workers 2` is reloaded under the keep-alive load, every request counted.
// Writes bench/results/<date>-workers.json. Loopback only; bounded; kills what it started.
// Exits 1 if a request failed during the reloads, 2 if the bench itself failed.
const { spawn } = require('node:child_process')
const { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } = require('node:fs')
const os = require('node:os')
const { join, relative } = require('node:path')
const { parseArgs } = require('node:util')
const { startLoad } = require('./lib/client')
const { runBounded, sleep } = require('./lib/bounded')
const { startReports } = require('./lib/reports')
const { killAll, STEP_TIMEOUT } = require('./lib/subjects')
const { pm2Subject, pm2Unavailable, killPm2, INSTANCES } = require('./lib/pm2')
const { summarize, round } = require('./lib/stats')

const CLI = join(__dirname, '..', 'dist', 'cli.js')
const APP = join(__dirname, 'app.js')
const PRIMARY = join(__dirname, 'lib', 'cluster-primary.js')

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    ms: { type: 'string', default: '4000' },
    reloads: { type: 'string', default: '5' },
    subjects: { type: 'string', default: 'hot2,cluster,pm2,hot1' },
    out: { type: 'string', default: join(__dirname, 'results') }
  }
})
const rounds = Number(args.rounds)
const ms = Number(args.ms)
const reloads = Number(args.reloads)
const LOADS = {
  'keep-alive': { clients: 100 },
  'new connection per request': { clients: 50, fresh: true }
}
const limitMs = 10 * 60000

const say = (text) => process.stderr.write(text + '\n')
const dir = mkdtempSync(join(os.tmpdir(), 'fhr-workers-'))
const { FASTIFY_HOT_RESTART, FASTIFY_HOT_RESTART_SUPERVISOR, ...env } = process.env
const ctx = { dir, env, spawned: new Set(), reports: undefined }

/** Spawns `file args` with stdout and stderr to a log in ctx.dir. */
function spawnLogged (file, argv, extraEnv) {
  const log = openSync(join(dir, 'processes.log'), 'a')
  const child = spawn(file, argv, { env: { ...env, BENCH_REPORT: ctx.reports.path, PORT: '0', ...extraEnv }, stdio: ['ignore', log, log] })
  closeSync(log)
  child.on('error', () => {})
  ctx.spawned.add(child.pid)
  const exited = new Promise(resolve => child.once('exit', () => { ctx.spawned.delete(child.pid); resolve() }))
  return { child, exited }
}

/** A subject whose processes all start from one parent (the supervisor, or cluster's primary). */
function parented (name, workers, command, extraEnv) {
  let parent
  let current = []
  return {
    name,
    async start () {
      const since = performance.now()
      parent = spawnLogged(process.execPath, command, extraEnv)
      current = await Promise.race([
        ctx.reports.listening(workers, since, `${name} to listen`, new Set(), STEP_TIMEOUT),
        parent.exited.then(() => { throw new Error(`${name} exited before it listened; see ${join(dir, 'processes.log')}`) })
      ])
      return current[0]
    },
    serving: () => current.map(p => p.pid),
    /** SIGHUP to the supervisor; resolves once the new workers serve and the old ones exited. */
    async reload () {
      const from = current
      const seen = new Set(ctx.reports.processes.keys())
      const triggeredAt = performance.now()
      process.kill(parent.child.pid, 'SIGHUP')
      current = await ctx.reports.listening(workers, triggeredAt, `the new workers of ${name}`, seen, STEP_TIMEOUT)
      await Promise.all(from.map(p => ctx.reports.exited(p.pid, STEP_TIMEOUT)))
      await Promise.all(current.map(p => ctx.reports.settled(p.pid, STEP_TIMEOUT)))
      return { handoverMs: Math.max(...current.map(p => p.listeningAt)) - triggeredAt }
    },
    async stop () {
      parent.child.kill('SIGTERM')
      let timer
      const late = new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(`${name} did not stop`)), STEP_TIMEOUT) })
      try {
        await Promise.race([parent.exited, late])
      } finally {
        clearTimeout(timer)
      }
    }
  }
}

const HOT2 = 'fastify-hot-restart run --workers 2'
const SUBJECTS = {
  hot2: { name: HOT2, make: () => parented(HOT2, 2, [CLI, 'run', '--workers', '2', '--', process.execPath, APP], { BENCH_SUBJECT: 'hot' }) },
  cluster: { name: 'node:cluster, 2 workers', make: () => parented('node:cluster, 2 workers', 2, [PRIMARY, '2']) },
  pm2: { name: `pm2 cluster, ${INSTANCES} workers`, make: (c) => pm2Subject(c) },
  hot1: { name: 'fastify-hot-restart run --workers 1', make: () => parented('fastify-hot-restart run --workers 1', 1, [CLI, 'run', '--workers', '1', '--', process.execPath, APP], { BENCH_SUBJECT: 'hot' }) }
}

/** Requests/s answered by `subject` under `load` over `ms`, after a warm-up, and each worker's share. */
async function throughput (subject, load) {
  const first = await subject.start()
  const t0 = performance.now()
  const l = startLoad(first.port, load, t0)
  try {
    await sleep(ms / 4)
    const from = performance.now() - t0
    await sleep(ms)
    const rec = await l.stop()
    let ok = 0
    let failed = 0
    for (let i = 0; i < rec.starts.length; i++) {
      if (rec.starts[i] < from || rec.starts[i] >= from + ms) continue
      if (rec.kinds[i] === 'ok') ok++
      else failed++
    }
    return { rps: round(ok / (ms / 1000), 0), failed }
  } finally {
    await l.stop()
    await subject.stop()
  }
}

async function main () {
  ctx.reports = await startReports(dir)
  const results = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, loadavg: os.loadavg().map(x => round(x, 2)) },
    plan: { rounds, ms, reloads, loads: LOADS },
    subjects: {},
    throughput: {},
    reloads: undefined
  }
  const chosen = args.subjects.split(',').map(key => {
    if (SUBJECTS[key] === undefined) throw new Error(`--subjects expects a comma-separated list of ${Object.keys(SUBJECTS).join(', ')}; got "${key}"`)
    return SUBJECTS[key]
  })
  const names = chosen.filter(({ name }) => {
    const unavailable = name.startsWith('pm2') ? pm2Unavailable() : undefined
    results.subjects[name] = unavailable ?? 'measured'
    if (unavailable !== undefined) say(`${name}: skipped: ${unavailable}`)
    return unavailable === undefined
  }).map(({ name }) => name)
  const make = Object.fromEntries(chosen.map(({ name, make }) => [name, make]))
  for (const [loadName, load] of Object.entries(LOADS)) {
    const runs = Object.fromEntries(names.map(n => [n, []]))
    for (let r = 0; r < rounds; r++) {
      // each round starts with another subject: none always runs first on a cold machine
      const order = names.map((_, i) => names[(i + r) % names.length])
      for (const name of order) {
        const outcome = await throughput(make[name](ctx), load)
        runs[name].push(outcome)
        say(`${loadName}, round ${r + 1}/${rounds}: ${name}: ${outcome.rps} req/s${outcome.failed > 0 ? `, ${outcome.failed} failed` : ''}`)
      }
    }
    results.throughput[loadName] = Object.fromEntries(names.map(n => [n, {
      rps: runs[n].map(o => o.rps),
      medianRps: summarize(runs[n].map(o => o.rps), Infinity).p50,
      failed: runs[n].reduce((a, o) => a + o.failed, 0)
    }]))
  }

  // reloads of the 2 workers under the keep-alive load: every request counted
  const subject = SUBJECTS.hot2.make(ctx)
  const first = await subject.start()
  const t0 = performance.now()
  const l = startLoad(first.port, LOADS['keep-alive'], t0)
  const handovers = []
  try {
    await sleep(500)
    for (let i = 0; i < reloads; i++) {
      handovers.push(round((await subject.reload()).handoverMs, 0))
      await sleep(500)
    }
  } finally {
    const rec = await l.stop()
    await subject.stop()
    const failed = rec.kinds.filter(k => k !== 'ok').length
    results.reloads = { subject: subject.name, reloads: handovers.length, requests: rec.kinds.length, failed, failures: rec.details, handoverMs: handovers }
  }

  mkdirSync(args.out, { recursive: true })
  const stamp = results.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')
  const json = join(args.out, `${stamp}-workers.json`)
  writeFileSync(json, JSON.stringify(results, null, 2) + '\n')

  console.log(`\nworkers bench, ${results.date}; ${results.machine.cpus} cpus, node ${results.machine.node}, load average at start ${results.machine.loadavg.join(' ')}`)
  console.log(`${rounds} rounds of ${ms} ms per subject and load; requests/s answered (median, then every round):\n`)
  const loads = Object.keys(LOADS)
  console.log(`| subject | ${loads.join(' | ')} |`)
  console.log(`|---|${loads.map(() => '---:').join('|')}|`)
  for (const name of names) {
    console.log(`| ${name} | ${loads.map(w => { const t = results.throughput[w][name]; return `${t.medianRps} (${t.rps.join(', ')})${t.failed > 0 ? `, ${t.failed} failed` : ''}` }).join(' | ')} |`)
  }
  const r = results.reloads
  console.log(`\n${r.subject}, ${r.reloads} reloads under the keep-alive load: ${r.requests} requests, ${r.failed} failed; handover (SIGHUP -> both new workers listen) ${r.handoverMs.join(', ')} ms`)
  console.log(`\nwritten: ${relative(process.cwd(), json)}`)
  return r.failed > 0 ? 1 : 0
}

let cleaned
function cleanup () {
  cleaned ??= (async () => {
    if (ctx.reports !== undefined) killAll(ctx)
    for (const pid of ctx.spawned) try { process.kill(pid, 'SIGKILL') } catch {}
    await killPm2(ctx)
    if (ctx.reports !== undefined) await ctx.reports.close()
    rmSync(dir, { recursive: true, force: true })
  })()
  return cleaned
}

runBounded(main, cleanup, limitMs, say)
