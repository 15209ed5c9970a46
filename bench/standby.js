'use strict'
// `node bench/standby.js` (after `npm run build`): how long a client waits when the serving
// generation crashes, under `fastify-hot-restart run` with and without `--standby`, on the
// compiled example app (example-app/server.js). For each mode, --kills rounds, each on a fresh
// supervisor (so that every kill is a first crash: no backoff): a client sends a request on a new
// connection every --interval ms (one at a time, no retry) and times each; after 100 answers the
// serving generation gets SIGKILL between two requests; the round ends 100 answers after the
// supervisor logs the restart. Reports, per mode: the longest wait of one request after the kill
// (max and p99 over the rounds), the longest gap between two answers, the failed requests, and
// with --standby the RSS of the spare and of the serving generation while the spare waits.
// Loopback only; bounded (bench/lib/bounded.js); kills what it started. Exits 1 if a request
// failed, 2 if the bench itself failed.
const { spawn } = require('node:child_process')
const http = require('node:http')
const os = require('node:os')
const { join } = require('node:path')
const { createInterface } = require('node:readline')
const { parseArgs } = require('node:util')
const { runBounded, sleep } = require('./lib/bounded')
const { sampleProcess } = require('./lib/procfs')

const CLI = join(__dirname, '..', 'dist', 'cli.js')
const APP = join(__dirname, '..', 'example-app', 'server.js')
const STEP_TIMEOUT = 120000

const { values: args } = parseArgs({
  options: {
    kills: { type: 'string', default: '5' },
    interval: { type: 'string', default: '2' }
  }
})
const kills = Number(args.kills)
const interval = Number(args.interval)
if (!Number.isInteger(kills) || kills < 1 || kills > 50 || !Number.isInteger(interval) || interval < 0 || interval > 100) {
  process.stderr.write('usage: node bench/standby.js [--kills 5] [--interval 2]  (kills 1 to 50, interval 0 to 100 ms)\n')
  process.exit(2)
}

const say = (text) => process.stderr.write(text + '\n')
const { FASTIFY_HOT_RESTART, FASTIFY_HOT_RESTART_SUPERVISOR, ...env } = process.env
const spawned = new Set()

/** Starts `run [--standby]` on the example app; follows its JSON log lines. */
function startSupervisor (standby) {
  const child = spawn(process.execPath, [CLI, 'run', ...(standby ? ['--standby'] : []), '--', process.execPath, APP], {
    env: { ...env, PORT: '0', PID_FILE: join(os.tmpdir(), `fhr-standby-bench-${process.pid}.pid`) },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  spawned.add(child.pid)
  const lines = []
  const waiters = new Set()
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', text => {
      let line
      try { line = JSON.parse(text) } catch { return }
      lines.push(line)
      for (const w of [...waiters]) w()
    })
  }
  const exited = new Promise(resolve => child.once('exit', code => { spawned.delete(child.pid); resolve(code) }))
  /** The first line from `from` on that matches. */
  const waitFor = (match, what, from = 0) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`no ${what} within ${STEP_TIMEOUT} ms`)) }, STEP_TIMEOUT)
    const check = () => {
      const line = lines.slice(from).find(match)
      if (line === undefined) return
      clearTimeout(timer)
      waiters.delete(check)
      resolve(line)
    }
    waiters.add(check)
    check()
  })
  return { child, lines, waitFor, exited }
}

/** One GET on a new connection: the pid that answered, or why it failed; how long it took (ms). */
function poll (port) {
  const started = performance.now()
  return new Promise(resolve => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 30000 }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', chunk => { body += chunk })
      res.on('end', () => {
        const end = performance.now()
        if (res.statusCode !== 200) return resolve({ failed: `status ${res.statusCode}`, ms: end - started, end })
        resolve({ pid: JSON.parse(body).pid, ms: end - started, end })
      })
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', err => { const end = performance.now(); resolve({ failed: err.code ?? err.message, ms: end - started, end }) })
  })
}

/** One round: a fresh supervisor, one kill of the serving generation under the polling client. */
async function round (standby) {
  const s = startSupervisor(standby)
  const listening = await s.waitFor(l => typeof l.msg === 'string' && l.msg.startsWith('Server listening at '), 'listening line')
  const port = Number(/:(\d+)$/.exec(listening.msg)[1])
  const spare = standby ? (await s.waitFor(l => l.event === 'standby.ready', 'spare')).standbyPid : undefined
  const outcomes = []
  let killAt
  let servingPid
  let rss
  let restarted
  let after = 0
  for (let i = 0; after < 100 && i < 100000; i++) {
    const outcome = await poll(port)
    outcomes.push(outcome)
    if (killAt === undefined && outcomes.length >= 100) {
      servingPid = outcome.pid
      rss = { servingKiB: sampleProcess(servingPid).rssKiB, spareKiB: spare === undefined ? undefined : sampleProcess(spare).rssKiB }
      const from = s.lines.length
      killAt = outcomes.length
      process.kill(servingPid, 'SIGKILL')
      s.waitFor(l => l.event === 'supervisor.restarted', 'restart', from).then(line => { restarted = line }, () => {})
    }
    if (restarted !== undefined) after++
    if (interval > 0) await sleep(interval)
  }
  if (restarted === undefined) throw new Error('no restart logged')
  const window = outcomes.slice(killAt)
  const gaps = window.map((o, i) => o.end - (i === 0 ? outcomes[killAt - 1].end : window[i - 1].end))
  s.child.kill('SIGTERM')
  await s.exited
  return {
    waits: window.map(o => o.ms),
    maxWaitMs: Math.max(...window.map(o => o.ms)),
    maxGapMs: Math.max(...gaps),
    failed: outcomes.filter(o => o.failed !== undefined).map(o => o.failed),
    newPid: outcomes.at(-1).pid,
    spare,
    killed: servingPid,
    downMs: restarted.downMs,
    ...rss
  }
}

const round1 = (x) => Math.round(x * 10) / 10
const percentile = (values, p) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))]

async function main (progressed) {
  const loadBefore = os.loadavg().map(round1)
  const modes = []
  let failed = 0
  for (const standby of [false, true]) {
    const rounds = []
    for (let i = 0; i < kills; i++) {
      const r = await round(standby)
      rounds.push(r)
      failed += r.failed.length
      progressed()
      say(`${standby ? '--standby' : 'no standby'}: kill ${i + 1}: longest wait ${Math.round(r.maxWaitMs)} ms, longest gap ${Math.round(r.maxGapMs)} ms, failed ${r.failed.length}${standby ? `, served next by the spare: ${r.newPid === r.spare}` : ''}`)
    }
    const waits = rounds.flatMap(r => r.waits)
    modes.push({
      name: standby ? '`run --standby`' : '`run`',
      maxWaitMs: Math.round(Math.max(...rounds.map(r => r.maxWaitMs))),
      p99WaitMs: round1(percentile(waits, 0.99)),
      perKillMs: rounds.map(r => Math.round(r.maxWaitMs)),
      maxGapMs: Math.round(Math.max(...rounds.map(r => r.maxGapMs))),
      requests: waits.length,
      failed: rounds.reduce((n, r) => n + r.failed.length, 0),
      servingMiB: round1(Math.max(...rounds.map(r => r.servingKiB ?? 0)) / 1024),
      spareMiB: standby ? round1(Math.max(...rounds.map(r => r.spareKiB ?? 0)) / 1024) : undefined,
      bySpare: standby ? rounds.filter(r => r.newPid === r.spare).length : undefined
    })
  }
  const loadAfter = os.loadavg().map(round1)
  process.stdout.write([
    `SIGKILL of the serving generation, ${kills} kills per mode, a request on a new connection every ${interval} ms (load average ${loadBefore.join(', ')} before, ${loadAfter.join(', ')} after; ${os.cpus().length} cores)`,
    '',
    '| | longest wait, ms (each kill) | p99 wait, ms | longest gap between answers, ms | failed requests | RSS serving / spare, MiB |',
    '|---|---:|---:|---:|---:|---:|',
    ...modes.map(m => `| ${m.name} | ${m.maxWaitMs} (${m.perKillMs.join(', ')}) | ${m.p99WaitMs} | ${m.maxGapMs} | ${m.failed} of ${m.requests} | ${m.servingMiB}${m.spareMiB === undefined ? '' : ` / ${m.spareMiB}`} |`),
    '',
    modes[1].bySpare === kills ? `every takeover was served by the spare (${kills} of ${kills})` : `served by the spare: ${modes[1].bySpare} of ${kills}`,
    ''
  ].join('\n'))
  return failed > 0 ? 1 : 0
}

async function cleanup () {
  for (const pid of spawned) {
    try { process.kill(pid, 'SIGKILL') } catch {}
  }
  await sleep(100)
}

runBounded(main, cleanup, { limitMs: 10 * 60000, stallMs: 3 * 60000 }, say)
