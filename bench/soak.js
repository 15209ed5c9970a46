'use strict'
// `npm run soak`: 1,000 generations back to back (each reload sent as soon as the previous
// predecessor has exited) under light load. Checks that no request fails, that the serving
// process's fd count stays flat (and reports it with its RSS at generations 2, 100 and the
// last), that the pid file always names a live process that said it was ready, and that no
// process is left behind. Exits non-zero if any check fails. Linux (reads /proc).
//
//   SOAK_GENERATIONS=1000  how many reloads
//   SOAK_LIMIT_MS=2700000  gives up (and kills every generation) after this long
//
// `node bench/soak.js app` is the app it reloads: a minimal Fastify server on the compiled
// plugin (dist/), quiet, so that the run measures the library and not the logs.
const { spawn } = require('node:child_process')
const { mkdtempSync, readFileSync, rmSync } = require('node:fs')
const http = require('node:http')
const { tmpdir } = require('node:os')
const { join } = require('node:path')
const { createInterface } = require('node:readline')
const { runBounded } = require('./lib/bounded')
const { countedGet } = require('./lib/counted-get')
const { fdsWithoutConnections: measure, processStat: stat, running: alive } = require('./lib/procfs')

if (process.argv[2] === 'app') {
  const Fastify = require('fastify')
  const hotRestart = require('..')
  const app = Fastify({ logger: { level: 'info' } })
  app.register(hotRestart, { pidFile: process.env.SOAK_PID_FILE, drainTimeout: 10000 })
  app.get('/', { logLevel: 'warn' }, async () => ({ pid: process.pid, generation: app.hotRestart.generation }))
  app.listen({ port: 0, host: '127.0.0.1' }).catch(err => { app.log.error(err); process.exit(1) })
  return
}

const GENERATIONS = Number(process.env.SOAK_GENERATIONS ?? 1000)
const LIMIT_MS = Number(process.env.SOAK_LIMIT_MS ?? 45 * 60 * 1000)
const CHECKPOINTS = new Set([2, 100, GENERATIONS, GENERATIONS + 1])
const KEEP_ALIVE_CLIENTS = 4
const FRESH_CLIENTS = 1

const dir = mkdtempSync(join(tmpdir(), 'fhr-soak-'))
const pidFile = join(dir, 'app.pid')
const stats = { ok: 0, failed: 0, failures: {} }
const pids = new Set()
const ready = new Set()
const pidFileProblems = []
let running = true

const request = (agent, port) => countedGet(stats, agent, port)

async function main (progressed) {
  const app = spawn(process.execPath, [__filename, 'app'], {
    env: { ...process.env, SOAK_PID_FILE: pidFile },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  pids.add(app.pid)
  const lines = createInterface({ input: app.stdout })
  const waiters = new Set()
  // every line, so that a wait can find a line that came before it started (one chunk of
  // output can hold several lines, all handled before the code that waits next runs)
  const seen = []
  lines.on('line', text => {
    let line
    try { line = JSON.parse(text) } catch { return }
    seen.push(line)
    pids.add(line.pid)
    if (line.msg === 'hot-restart: ready') ready.add(line.pid)
    if (line.level >= 50) console.error(`error logged: ${text}`)
    for (const w of waiters) if (w.match(line)) { waiters.delete(w); w.resolve(line) }
  })
  const ended = new Promise(resolve => lines.once('close', resolve))
  const waitFor = (match, from = 0) => {
    const line = seen.slice(from).find(match)
    return line !== undefined ? Promise.resolve(line) : new Promise(resolve => waiters.add({ match, resolve }))
  }

  const listening = await waitFor(l => /^Server listening at /.test(l.msg))
  const port = Number(/:(\d+)$/.exec(listening.msg)[1])
  await waitFor(l => l.pid === app.pid && l.msg === 'hot-restart: ready')

  // the pid file, read every 10 ms, must name a running process (read again after a failed
  // check: the process named may have exited and been replaced between the two reads), and
  // every pid it names must have said it was ready
  const named = new Set()
  const read = () => Number(readFileSync(pidFile, 'utf8'))
  const watcher = setInterval(() => {
    let pid
    try { pid = read() } catch (err) { pidFileProblems.push(`unreadable: ${err.code}`); return }
    named.add(pid)
    if (!alive(pid) && read() === pid) pidFileProblems.push(`names ${pid}, which is not running`)
  }, 10)

  const agent = new http.Agent({ keepAlive: true, maxSockets: KEEP_ALIVE_CLIENTS })
  const loops = [
    ...Array.from({ length: KEEP_ALIVE_CLIENTS }, async () => { while (running) await request(agent, port) }),
    ...Array.from({ length: FRESH_CLIENTS }, async () => { while (running) await request(false, port) })
  ]

  const started = Date.now()
  const measured = []
  const fdCounts = []
  let pid = app.pid
  for (let generation = 2; generation <= GENERATIONS + 1; generation++) {
    const from = seen.length
    const handedOver = waitFor(l => l.pid === pid && (l.msg === 'hot-restart: the successor is ready; draining' || /^hot-restart: upgrade (failed|refused)/.test(l.msg)), from)
    process.kill(pid, 'SIGUSR2')
    const line = await handedOver
    if (line.successorPid === undefined || !/ready; draining/.test(line.msg)) throw new Error(`generation ${generation}: ${line.msg}`)
    const successor = line.successorPid
    await waitFor(l => l.pid === successor && l.msg === 'hot-restart: the predecessor has exited', from)
    const counts = measure(successor)
    fdCounts.push(counts.fds)
    if (CHECKPOINTS.has(generation)) measured.push({ generation, pid: successor, ...counts })
    if (generation % 50 === 0) {
      console.log(`generation ${generation}: ${Math.round((Date.now() - started) / 1000)} s, requests ${stats.ok + stats.failed}, failed ${stats.failed}, fds ${counts.fds}, rss ${counts.rssMB} MB`)
    }
    pid = successor
    progressed()
  }
  running = false
  await Promise.all(loops)
  agent.destroy()
  clearInterval(watcher)
  for (const pid of named) if (!ready.has(pid)) pidFileProblems.push(`named ${pid}, which never said ready`)
  process.kill(pid, 'SIGTERM')
  await ended

  // a generation whose parent has exited is reparented to init (or a subreaper), which reaps it
  // once it exits; a zombie whose parent is one of ours would be a generation that did not reap
  // its successor
  const left = [...pids].map(p => ({ pid: p, ...stat(p) })).filter(p => p.state !== undefined)
  const running_ = left.filter(p => p.state !== 'Z')
  const zombies = left.filter(p => p.state === 'Z' && pids.has(p.ppid))
  const awaitingInit = left.length - running_.length - zombies.length
  const flat = fdCounts.every(c => c === fdCounts[0])

  console.log(`\nfastify-hot-restart soak: ${GENERATIONS} reloads in ${Math.round((Date.now() - started) / 1000)} s, ` +
    `${KEEP_ALIVE_CLIENTS} keep-alive clients + ${FRESH_CLIENTS} on new connections\n`)
  console.log('| generation | pid | fds | RSS |')
  console.log('| --- | --- | --- | --- |')
  for (const m of measured) console.log(`| ${m.generation} | ${m.pid} | ${m.fds} | ${m.rssMB} MB |`)
  console.log(`\nfd count per generation: ${flat ? `always ${fdCounts[0]}` : `min ${Math.min(...fdCounts)}, max ${Math.max(...fdCounts)}`}`)
  console.log(`requests: ${stats.ok + stats.failed}, failed: ${stats.failed}${stats.failed ? ' ' + JSON.stringify(stats.failures) : ''}`)
  console.log(`pid file: ${pidFileProblems.length === 0 ? 'always named a live, ready process' : `${pidFileProblems.length} problems, first: ${pidFileProblems[0]}`}`)
  console.log(`processes left: ${running_.length} running, ${zombies.length} unreaped by a generation (of ${pids.size} generations)${awaitingInit ? `; ${awaitingInit} exited and not yet reaped by init (pid 1)` : ''}`)
  rmSync(dir, { recursive: true, force: true })
  return stats.failed === 0 && flat && pidFileProblems.length === 0 && running_.length === 0 && zombies.length === 0 ? 0 : 1
}

function cleanup () {
  for (const pid of pids) { if (alive(pid)) try { process.kill(pid, 'SIGKILL') } catch {} }
  rmSync(dir, { recursive: true, force: true })
  return Promise.resolve()
}

// a generation takes well under a second here; a minute without one is a stuck run
runBounded(main, cleanup, { limitMs: LIMIT_MS, stallMs: 60000 }, text => console.error(text))
