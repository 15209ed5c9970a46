'use strict'
// `node bench/handover.js [--runs 20] [--load W1]`: where the time of a handover goes. Alternates
// a reload of bench/app.js with fastify-hot-restart (SIGUSR2) and a boot of the bare app
// (spawn -> listening), both preloaded with bench/lib/probe.js, which timestamps each step on
// the machine's clock; prints the median time of each step since the signal (the spawn, for
// the bare boot). With --load, the app that reloads serves that workload meanwhile (the bare
// app boots beside it, as in the bench's "boot under load"). Bounded; kills what it started.
const { spawn } = require('node:child_process')
const { mkdtempSync, readFileSync, rmSync } = require('node:fs')
const os = require('node:os')
const { join } = require('node:path')
const { parseArgs } = require('node:util')
const { runBounded, sleep } = require('./lib/bounded')
const { startReports } = require('./lib/reports')
const { startLoad } = require('./lib/client')
const { summarize, round } = require('./lib/stats')
const { WORKLOADS } = require('./lib/workloads')

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '20' }, load: { type: 'string' } } })
const RUNS = Number(args.runs)
const dir = mkdtempSync(join(os.tmpdir(), 'fhr-handover-'))
const probeFile = join(dir, 'probe.jsonl')
const { FASTIFY_HOT_RESTART, ...env } = process.env
const spawned = new Set()
const now = () => performance.timeOrigin + performance.now()
const epoch = (benchTime) => performance.timeOrigin + benchTime

function start (subject) {
  const child = spawn(process.execPath, ['--require', join(__dirname, 'lib', 'probe.js'), join(__dirname, 'app.js')], {
    env: { ...env, BENCH_SUBJECT: subject, BENCH_REPORT: reports.path, PORT: '0', PROBE_FILE: probeFile, PID_FILE: join(dir, 'app.pid') },
    stdio: 'ignore'
  })
  spawned.add(child.pid)
  return child
}

function events () {
  const byPid = new Map()
  for (const line of readFileSync(probeFile, 'utf8').split('\n')) {
    if (line === '') continue
    const { pid, event, at } = JSON.parse(line)
    if (!byPid.has(pid)) byPid.set(pid, {})
    byPid.get(pid)[event] ??= at
  }
  return byPid
}

let reports
const rows = { hot: [], bare: [] }

async function main (progressed) {
  reports = await startReports(dir)
  start('hot')
  let current = await reports.nextListening(0, 'the first app to listen')
  const load = args.load === undefined ? undefined : startLoad(current.port, WORKLOADS[args.load].load, performance.now())
  await sleep(1000)
  for (let i = 0; i < RUNS; i++) {
    // a reload
    const seen = new Set(reports.processes.keys())
    const signalAt = now()
    process.kill(current.pid, 'SIGUSR2')
    const from = current
    current = await reports.nextListening(performance.now() - 1, 'the successor to listen', seen, 30000)
    await reports.settled(current.pid, 30000)
    spawned.add(current.pid)
    const ev = events()
    const pred = ev.get(from.pid)
    const succ = ev.get(current.pid)
    rows.hot.push(rel({
      'predecessor: signal handled': pred['signal handled'],
      'predecessor: spawn() called': pred['spawn called'],
      'predecessor: spawn() returned': pred['spawn returned'],
      'successor: process start': succ['process start'],
      'successor: preload': succ.preload,
      'successor: require(fastify) done': succ['require fastify'],
      'successor: require(plugin) start': succ['require .. from'],
      'successor: require(plugin) done': succ['require ..'],
      'successor: listen() called': succ['listen called'],
      'successor: listening': succ.listening,
      'successor: app.listen() resolved (the bench\'s handover end, as its report arrives)': epoch(current.listeningAt),
      'successor: ready sent': succ['message sent'],
      'predecessor: ready received': pred['message from successor']
    }, signalAt))
    // a bare boot
    const bareSeen = new Set(reports.processes.keys())
    const spawnAt = now()
    const bare = start('bare')
    const b = await reports.nextListening(performance.now() - 1, 'the bare app to listen', bareSeen, 30000)
    const be = events().get(bare.pid)
    rows.bare.push(rel({
      'process start': be['process start'],
      preload: be.preload,
      'require(fastify) done': be['require fastify'],
      'listen() called': be['listen called'],
      listening: be.listening,
      'app.listen() resolved (as its report arrives)': epoch(b.listeningAt)
    }, spawnAt))
    bare.kill('SIGTERM')
    await reports.exited(bare.pid, 30000)
    process.stderr.write(`\r${i + 1}/${RUNS}`)
    progressed()
  }
  if (load !== undefined) await load.stop()
  process.kill(current.pid, 'SIGTERM')
  await reports.exited(current.pid, 30000)
  print('reload with fastify-hot-restart: ms since the signal (SIGUSR2 sent)', rows.hot)
  print('bare boot: ms since the spawn', rows.bare)
  return 0
}

/** Each event's time since `since`. */
function rel (events, since) {
  return Object.fromEntries(Object.entries(events).map(([k, v]) => [k, v === undefined ? NaN : v - since]))
}

function print (title, list) {
  console.log(`\n${title}, ${list.length} runs${args.load ? `, under the ${args.load} load` : ', idle'} (load average ${os.loadavg().map(l => l.toFixed(2)).join(' ')})\n`)
  console.log('| step | p50 | p90 | step p50 (since the previous) |\n| --- | --- | --- | --- |')
  let previous
  for (const key of Object.keys(list[0])) {
    const values = list.map(r => r[key]).filter(Number.isFinite)
    const deltas = previous === undefined ? [] : list.map(r => r[key] - r[previous]).filter(Number.isFinite)
    const s = summarize(values, Infinity)
    const p90 = Float64Array.from(values).sort()[Math.ceil(values.length * 0.9) - 1]
    console.log(`| ${key} | ${round(s.p50)} | ${round(p90)} | ${deltas.length ? round(summarize(deltas, Infinity).p50) : ''} |`)
    previous = key
  }
}

let cleaned
function cleanup () {
  cleaned ??= (async () => {
    for (const pid of spawned) {
      if (reports?.processes.get(pid)?.exitedAt !== undefined) continue
      try { process.kill(pid, 'SIGKILL') } catch {}
    }
    await reports?.close()
    rmSync(dir, { recursive: true, force: true })
  })()
  return cleaned
}

// each run is a reload and a boot: a minute with neither is a stuck run
runBounded(main, cleanup, { limitMs: 30 * 60000, stallMs: 60000 }, text => console.error(text))
