'use strict'
// The app every subject of the bench runs: the same routes, the same shutdown, only the way it
// is replaced differs. BENCH_SUBJECT picks it:
//   hot    fastify-hot-restart (reload: SIGUSR2; the plugin hands the socket over and drains)
//   bare   plain Fastify (naive restart: SIGTERM, then a new process binds the port; and the
//          "bare Fastify" side of the throughput ratio)
//   close  a do-it-yourself hand-over (SIGUSR2: spawn a successor on the same listening fd),
//          then Node's own drain, `server.close()`: the negative control
//   pm2    plain Fastify as a pm2 cluster worker (pm2 reload sends SIGINT)
// Every process reports its life to the bench over the unix socket BENCH_REPORT, one JSON line
// per event: listening (with the port), settled (can reload again), draining, exit; the socket
// closing tells that it exited.
//
// What a reload costs the processes, measured inside them (hot subject): the longest event-loop
// stall (a 10 ms timer's lateness, perf_hooks.monitorEventLoopDelay) of the successor from its
// listen() to its predecessor's exit (reported with `settled`), of the predecessor from the
// signal to its successor's ready (it spawns the successor meanwhile), and from that ready to
// its exit, with the CPU it used then (/proc: all three reported with `exit`).
const { spawn } = require('node:child_process')
const diagnostics = require('node:diagnostics_channel')
const net = require('node:net')
const { monitorEventLoopDelay } = require('node:perf_hooks')
const Fastify = require('fastify')
const { cpuMs } = require('./lib/procfs')

const SUBJECT = process.env.BENCH_SUBJECT ?? 'bare'
const DRAIN_TIMEOUT = 10000
const app = Fastify({ logger: false })
const streams = new Set()

let report = () => {}
if (process.env.BENCH_REPORT) {
  const socket = net.connect(process.env.BENCH_REPORT)
  socket.on('error', () => {})
  socket.unref()
  report = (event, data) => socket.write(JSON.stringify({ event, pid: process.pid, ...data }) + '\n')
}

const RESOLUTION_MS = 10
const loop = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
loop.enable()
/** The longest stall since the last reset (ms): the timer's lateness beyond its own interval. */
const longestStallMs = () => loop.count === 0 ? 0 : Math.max(0, Math.round(loop.max / 1e6 - RESOLUTION_MS))

// the app's own part of any graceful stop: end the event streams with a "reconnect" event
function endStreams () {
  for (const res of streams) res.end('event: reconnect\ndata: draining\n\n')
}

function routes () {
  app.get('/', async () => ({ pid: process.pid }))
  app.get('/slow', async (request) => {
    const ms = Math.min(Number(request.query.ms) || 1000, 10000)
    await new Promise(resolve => setTimeout(resolve, ms))
    return { pid: process.pid, ms }
  })
  app.get('/events', (request, reply) => {
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    res.write(`data: ${process.pid}\n\n`)
    const timer = setInterval(() => res.write(`data: ${process.pid}\n\n`), 100)
    streams.add(res)
    res.on('close', () => { clearInterval(timer); streams.delete(res) })
  })
}

// plain Fastify's graceful stop, as most apps write it: end the streams, close, exit
function stopOn (signal) {
  process.once(signal, () => {
    report('draining')
    endStreams()
    setTimeout(() => process.exit(1), DRAIN_TIMEOUT).unref()
    app.close().then(() => process.exit(0))
  })
}

async function hot () {
  const hotRestart = require('..')
  const nice = Number(process.env.BENCH_NICE ?? 0)
  const warmups = Number(process.env.BENCH_WARMUP ?? 0)
  // BENCH_CLOSE_SPREAD: the closeSpread option (ms), to compare spreads (bench/README.md)
  const closeSpread = process.env.BENCH_CLOSE_SPREAD === undefined ? undefined : Number(process.env.BENCH_CLOSE_SPREAD)
  await app.register(hotRestart, {
    drainTimeout: DRAIN_TIMEOUT,
    pidFile: process.env.PID_FILE,
    connectionHandover: process.env.BENCH_HANDOVER !== '0',
    closeSpread,
    // the variants of issue 12 item 6: a successor booting at a lower priority, and warm
    ...nice > 0 && { successorNice: nice },
    ...warmups > 0 && { warmup: async (instance) => { for (let i = 0; i < warmups; i++) await instance.inject('/') } }
  })
  app.hotRestart.onDrain(() => { report('draining'); endStreams() })
  // as a predecessor: from the signal to its successor's ready (it spawns the successor, which
  // boots), then from that ready to its own exit
  let measuring = false
  const untilExit = (bootStallMs) => {
    if (measuring) return
    measuring = true
    const cpuAtReady = cpuMs(process.pid)
    loop.reset()
    // synchronous: a small write to a connected unix socket goes out at once
    process.once('exit', () => report('exit', { cpuMs: cpuMs(process.pid) - cpuAtReady, stallMs: longestStallMs(), bootStallMs }))
  }
  diagnostics.subscribe('fastify-hot-restart:upgrade:start', () => loop.reset())
  diagnostics.subscribe('fastify-hot-restart:upgrade:ready', () => untilExit(longestStallMs()))
  // under `run` the supervisor spawns the successor: this process hears of the reload only when
  // it is told to drain (its successor is ready), so its stall while the successor boots is not
  // measured
  diagnostics.subscribe('fastify-hot-restart:drain:start', () => untilExit(undefined))
  routes()
  await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' })
  // as a successor: from its listen() to its predecessor's exit; until then this process
  // refuses to upgrade (one upgrade at a time): the bench waits for it
  loop.reset()
  app.hotRestart.predecessorExited.then(() => report('settled', { stallMs: longestStallMs() }))
}

async function bare () {
  routes()
  stopOn(SUBJECT === 'pm2' ? 'SIGINT' : 'SIGTERM')
  await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' })
}

// The negative control: the same hand-over of the listening fd as fastify-hot-restart, but
// drained with Node's own http.Server#close (which closes idle keep-alive sockets at once).
async function close () {
  routes()
  stopOn('SIGTERM')
  const inherited = process.env.BENCH_INHERITED_FD !== undefined
  if (inherited) {
    await app.listen({ fd: 3 })
  } else {
    await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' })
  }
  if (process.send) process.send('ready')
  process.once('SIGUSR2', () => {
    const { BENCH_INHERITED_FD, ...env } = process.env
    const successor = spawn(process.execPath, [__filename], {
      env: { ...env, BENCH_INHERITED_FD: '3' },
      stdio: ['ignore', 'inherit', 'inherit', app.server._handle.fd, 'ipc']
    })
    successor.once('message', () => {
      successor.disconnect()
      successor.unref()
      report('draining')
      endStreams()
      setTimeout(() => process.exit(1), DRAIN_TIMEOUT).unref()
      app.server.close(() => process.exit(0))
    })
  })
}

const boot = { hot, bare, pm2: bare, close }[SUBJECT]
boot().then(() => {
  report('listening', { port: app.server.address().port })
}, err => {
  console.error(err)
  process.exit(1)
})
