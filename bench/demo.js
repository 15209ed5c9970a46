'use strict'
// `npm run demo`: starts the example app, sends it steady keep-alive traffic, reloads it 5
// times through the CLI while a progress line shows what happens, then stops everything and
// prints a summary. Exits non-zero if any request failed. Loopback only; bounded in time.
const { spawn, execFile } = require('node:child_process')
const { mkdtempSync, rmSync } = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const { join } = require('node:path')
const { createInterface } = require('node:readline')
const { runBounded, sleep } = require('./lib/bounded')
const { countedGet } = require('./lib/counted-get')
const { running: alive } = require('./lib/procfs')

const ROOT = join(__dirname, '..')
const CLIENTS = 30
const RELOADS = 5
// The demo gives up (and kills everything it started) only when nothing moves for STALL_MS
// (no request answered, no reload step): on a loaded machine it takes longer, and says so.
const STALL_MS = 60000
const LIMIT_MS = 10 * 60000

const dir = mkdtempSync(join(os.tmpdir(), 'fhr-demo-'))
const pidFile = join(dir, 'app.pid')
const stats = { ok: 0, failed: 0, failures: {}, pid: 0, generation: 0 }
let running = true
// every process of the app: each generation logs its pid, and the successor's pid is logged
// as soon as it is spawned; on a failure all of them are killed, so none is left behind
const pids = new Set()

function killAll () {
  for (const pid of pids) if (alive(pid)) try { process.kill(pid, 'SIGKILL') } catch {}
}

const request = (agent, port) => countedGet(stats, agent, port, ({ pid, generation }) => {
  stats.pid = pid
  stats.generation = generation
})

function cli (...args) {
  return new Promise(resolve => {
    execFile(process.execPath, [join(ROOT, 'dist', 'cli.js'), ...args], (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, out: stdout.trim(), err: stderr.trim() })
    })
  })
}

function progress (text) {
  if (process.stdout.isTTY) process.stdout.write(`\r\x1b[K${text}`)
}

async function main (progressed) {
  const loadBefore = os.loadavg()[0]
  const started = performance.now()
  const app = spawn(process.execPath, [join(ROOT, 'example-app', 'server.js')], {
    env: { ...process.env, PORT: '0', PID_FILE: pidFile },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  pids.add(app.pid)
  const lines = createInterface({ input: app.stdout })
  lines.on('line', line => {
    try {
      const { pid, successorPid } = JSON.parse(line)
      if (pid) pids.add(pid)
      if (successorPid) pids.add(successorPid)
    } catch {}
  })
  const port = await new Promise((resolve, reject) => {
    lines.on('line', line => {
      const m = /"msg":"Server listening at http:\/\/127\.0\.0\.1:(\d+)"/.exec(line)
      if (m) resolve(Number(m[1]))
    })
    app.once('exit', () => reject(new Error('the example app exited before it listened')))
  })
  await new Promise(resolve => lines.on('line', line => { if (line.includes('hot-restart: ready')) resolve() }))
  const ended = new Promise(resolve => lines.once('close', resolve))

  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS })
  const loops = Array.from({ length: CLIENTS }, async () => { while (running) await request(agent, port) })
  let answered = 0
  const ticker = setInterval(() => {
    if (stats.ok + stats.failed > answered) progressed()
    answered = stats.ok + stats.failed
    progress(`requests ${answered}  failed ${stats.failed}  pid ${stats.pid}  generation ${stats.generation}`)
  }, 100)

  const reloads = []
  for (let i = 0; i < RELOADS; i++) {
    // let traffic flow between reloads
    const before = stats.ok
    while (stats.ok - before < 2000) await sleep(20)
    const exited = new Promise(resolve => lines.on('line', function wait (line) { if (line.includes('the predecessor has exited')) { lines.removeListener('line', wait); resolve() } }))
    const r = await cli('reload', '--pid-file', pidFile, '--timeout', '20000')
    const m = /in (\d+) ms/.exec(r.out)
    reloads.push({ ok: r.code === 0, ms: m ? Number(m[1]) : null, text: r.code === 0 ? r.out : r.err })
    progressed()
    if (r.code !== 0) break
    // the successor accepts reloads once its predecessor has exited
    await exited
  }
  running = false
  await Promise.all(loops)
  clearInterval(ticker)
  agent.destroy()
  progress('')
  const stop = await cli('stop', '--pid-file', pidFile)
  await ended

  console.log('\nfastify-hot-restart demo: example-app under load from %d keep-alive clients\n', CLIENTS)
  console.log('| reload | result | handover (CLI: signal -> new generation ready) |')
  console.log('| --- | --- | --- |')
  reloads.forEach((r, i) => console.log(`| ${i + 1} | ${r.ok ? 'ok' : 'FAILED'} | ${r.ok ? `${r.ms} ms` : r.text} |`))
  console.log(`\nreloads ok: ${reloads.filter(r => r.ok).length}/${RELOADS}   requests: ${stats.ok + stats.failed}   failed: ${stats.failed}${stats.failed ? ' ' + JSON.stringify(stats.failures) : ''}`)
  console.log(stop.code === 0 ? stop.out : `stop: ${stop.err}`)
  // a slow run is not a failed one: say how busy the machine was
  console.log(`took ${Math.round((performance.now() - started) / 1000)} s; load average ${loadBefore.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end (${os.cpus().length} cores)`)
  return stats.failed === 0 && reloads.length === RELOADS && reloads.every(r => r.ok) ? 0 : 1
}

function cleanup () {
  progress('')
  killAll()
  rmSync(dir, { recursive: true, force: true })
  return Promise.resolve()
}

runBounded(main, cleanup, { limitMs: LIMIT_MS, stallMs: STALL_MS }, text => console.error(text))
