'use strict'
// `node bench/idle-drain.js [--counts 100,1000,10000] [--modes handover,drain]`: what idle
// kept-alive connections cost a reload. For each count, opens that many connections to
// bench/app.js (each makes one request, then stays idle), reloads (SIGUSR2), and reports the
// predecessor's time from its successor's ready (its `listening` report) to its exit, the CPU
// the predecessor used over that time (/proc, 10 ms ticks), and what became of the connections
// (still open after the reload, or closed by the server). `handover` is the default
// (connectionHandover: true), `drain` the old drain (false), which closes idle connections after
// idleGrace (5 s). Bounded (10 min, 2 min without progress); kills what it started.
const { spawn } = require('node:child_process')
const { mkdtempSync, rmSync } = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const { join } = require('node:path')
const { parseArgs } = require('node:util')
const { runBounded, sleep } = require('./lib/bounded')
const { cpuMs } = require('./lib/procfs')
const { startReports } = require('./lib/reports')

const { values: args } = parseArgs({ options: { counts: { type: 'string', default: '100,1000,10000' }, modes: { type: 'string', default: 'handover,drain' } } })
const COUNTS = args.counts.split(',').map(Number)
const MODES = args.modes.split(',')
const dir = mkdtempSync(join(os.tmpdir(), 'fhr-idle-drain-'))
const { FASTIFY_HOT_RESTART, ...env } = process.env
const spawned = new Set()
const clients = new Set()
let reports

/** Opens `n` connections, 200 at a time (the listen backlog is 511); each makes one request. */
async function openIdle (port, n) {
  const sockets = []
  for (let i = 0; i < n; i += 200) {
    sockets.push(...await Promise.all(Array.from({ length: Math.min(200, n - i) }, () => new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1')
      clients.add(socket)
      socket.on('error', () => {})
      socket.once('close', () => { socket.closedByServer = true })
      socket.once('connect', () => socket.write('GET / HTTP/1.1\r\nHost: bench\r\n\r\n'))
      socket.once('data', () => resolve(socket))
      socket.once('close', () => reject(new Error('a connection closed before its first response')))
    }))))
  }
  return sockets
}

async function run (mode, n, progressed) {
  const child = spawn(process.execPath, [join(__dirname, 'app.js')], {
    env: { ...env, BENCH_SUBJECT: 'hot', BENCH_HANDOVER: mode === 'drain' ? '0' : '1', BENCH_REPORT: reports.path, PORT: '0', PID_FILE: join(dir, 'app.pid') },
    stdio: 'ignore'
  })
  spawned.add(child.pid)
  const first = await reports.nextListening(0, 'the app to listen', new Set([...reports.processes.keys()]), 60000)
  const sockets = await openIdle(first.port, n)
  progressed()
  const before = performance.now()
  process.kill(first.pid, 'SIGUSR2')
  const successor = await reports.nextListening(before, 'the successor to listen', new Set([first.pid]), 120000)
  spawned.add(successor.pid)
  // the predecessor's CPU from the successor's ready to its last sample before it exits
  const cpuAtReady = cpuMs(first.pid)
  let cpuLast = cpuAtReady
  while (reports.processes.get(first.pid)?.exitedAt === undefined) {
    cpuLast = cpuMs(first.pid) ?? cpuLast
    await sleep(20)
  }
  const exited = reports.processes.get(first.pid).exitedAt
  await sleep(200) // closes the server made at the end reach the client
  const closed = sockets.filter(s => s.closedByServer === true).length
  const result = { mode, connections: n, readyToExitMs: Math.round(exited - successor.listeningAt), predecessorCpuMs: cpuLast - cpuAtReady, open: n - closed, closedByServer: closed }
  for (const socket of sockets) { socket.destroy(); clients.delete(socket) }
  process.kill(successor.pid, 'SIGTERM')
  await reports.exited(successor.pid, 60000)
  progressed()
  return result
}

async function cleanup () {
  for (const socket of clients) socket.destroy()
  for (const pid of spawned) { try { process.kill(pid, 'SIGKILL') } catch {} }
  await reports?.close?.()
  rmSync(dir, { recursive: true, force: true })
}

async function main (progressed) {
  reports = await startReports(dir)
  const results = []
  for (const n of COUNTS) {
    for (const mode of MODES) {
      const result = await run(mode, n, progressed)
      results.push(result)
      console.log(JSON.stringify(result))
    }
  }
  console.log('\n| idle connections | drain | predecessor ready -> exit | its CPU | open after | closed by the server |\n| ---: | --- | ---: | ---: | ---: | ---: |')
  for (const r of results) console.log(`| ${r.connections} | ${r.mode} | ${r.readyToExitMs} ms | ${r.predecessorCpuMs} ms | ${r.open} | ${r.closedByServer} |`)
  console.log(`\nload average ${os.loadavg().map(l => l.toFixed(1)).join(' ')}, ${os.cpus().length} cores, Node ${process.version}`)
  return 0
}

runBounded(main, cleanup, { limitMs: 600000, stallMs: 120000 }, line => console.error(line))
