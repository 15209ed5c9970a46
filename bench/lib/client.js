'use strict'
// The bench's recording load client (node:http): every request's start, latency and outcome.
// Loops: closed loops on kept-alive connections (with optional think time), an open loop at a
// fixed rate on new connections, and server-sent-event streams that reconnect.
const http = require('node:http')
const { monitorEventLoopDelay } = require('node:perf_hooks')
const { sleep } = require('./bounded')
const { classify } = require('./classify')

const HOST = '127.0.0.1'
/** A request with no answer by then is a failure of class `timeout` (ms). */
const REQUEST_TIMEOUT = 10000

/** Every request's outcome, in arrays (one entry per request). */
class Recorder {
  constructor (t0) {
    this.t0 = t0
    /** ms since t0 */
    this.starts = []
    /** ms; for /slow, beyond the delay asked for */
    this.latencies = []
    /** 'ok' or a failure class */
    this.kinds = []
    /**
     * class -> detail -> count: the status of a non2xx, the code of an other, and for the
     * socket errors whether the request went out on a reused keep-alive socket (the race of
     * a server closing an idle connection as the client sends on it) or a new connection
     */
    this.details = {}
    /** event streams: how many ended cleanly (their failures are in the arrays) */
    this.streamsEnded = 0
  }

  add (start, latency, { kind, detail }, reusedSocket) {
    this.starts.push(start - this.t0)
    this.latencies.push(latency)
    this.kinds.push(kind)
    if (detail === undefined && kind !== 'ok' && reusedSocket !== undefined) {
      detail = reusedSocket ? 'reused keep-alive socket' : 'new connection'
    }
    if (detail !== undefined) {
      const d = (this.details[kind] ??= {})
      d[detail] = (d[detail] ?? 0) + 1
    }
  }
}

/** One GET; resolves once recorded. `expectMs` is subtracted from the latency. */
function request (rec, port, path, agent, expectMs = 0) {
  return new Promise(resolve => {
    const start = performance.now()
    let done = false
    const finish = (outcome) => {
      if (done) return
      done = true
      rec.add(start, performance.now() - start - expectMs, classify(outcome), req.reusedSocket)
      resolve()
    }
    const req = http.get({ host: HOST, port, path, agent, timeout: REQUEST_TIMEOUT }, res => {
      res.on('data', () => {})
      res.on('end', () => finish({ status: res.statusCode }))
      res.on('error', error => finish({ error }))
    })
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })))
    req.on('error', error => finish({ error }))
  })
}

/**
 * An event stream that reconnects when the server ends it. A stream counts as one request: ok
 * when the server ends it cleanly, a failure when it is cut; its latency is the time to the
 * first event. Resolves once `running()` is false (the stream in progress is then dropped).
 */
async function stream (rec, port, running) {
  while (running()) {
    await new Promise(resolve => {
      const start = performance.now()
      let first
      let done = false
      const finish = (outcome) => {
        if (done) return
        done = true
        clearInterval(watch)
        if (running()) {
          rec.add(start, (first ?? performance.now()) - start, classify(outcome))
          if (outcome.error === undefined) rec.streamsEnded++
        }
        resolve()
      }
      const req = http.get({ host: HOST, port, path: '/events', agent: false }, res => {
        res.on('data', () => { first ??= performance.now() })
        res.on('end', () => finish({ status: res.statusCode }))
        res.on('error', error => finish({ error }))
      })
      req.on('error', error => finish({ error }))
      // the bench is over: drop the stream without recording it
      const watch = setInterval(() => { if (!running()) { finish({}); req.destroy() } }, 50)
    })
  }
}

/**
 * Starts a workload's load against 127.0.0.1:`port`. The client's own event-loop delay is
 * recorded meanwhile (`recorder.clientLag`, ms, once stopped): a client that is stalled itself
 * measures its own stall as the server's latency.
 * @param {object} load what to send (see workloads.js)
 * @returns {{ recorder: Recorder, stop (): Promise<Recorder> }} stop() waits for every
 *   request in flight
 */
function startLoad (port, load, t0) {
  const rec = new Recorder(t0)
  const lag = monitorEventLoopDelay({ resolution: 10 })
  lag.enable()
  let running = true
  const isRunning = () => running
  const loops = []
  // fresh: each request of the closed loops on a new connection
  const agent = load.fresh === true ? false : new http.Agent({ keepAlive: true, maxSockets: Math.max(1, load.clients ?? 1) })
  for (let i = 0; i < (load.clients ?? 0); i++) {
    loops.push((async () => {
      while (running) {
        if (load.slowMs !== undefined) {
          const ms = load.slowMs[0] + Math.floor(Math.random() * (load.slowMs[1] - load.slowMs[0]))
          await request(rec, port, `/slow?ms=${ms}`, agent, ms)
        } else {
          await request(rec, port, '/', agent)
        }
        if (load.thinkMs !== undefined && running) await sleep(Math.random() * load.thinkMs)
      }
    })())
  }
  for (let i = 0; i < (load.streams ?? 0); i++) loops.push(stream(rec, port, isRunning))
  if (load.rate !== undefined) {
    // open loop: the requests due by now are sent whether or not earlier ones were answered
    const inFlight = new Set()
    const begun = performance.now()
    let sent = 0
    loops.push(new Promise(resolve => {
      const pace = setInterval(() => {
        if (!running) { clearInterval(pace); Promise.all(inFlight).then(() => resolve()); return }
        const due = Math.floor(((performance.now() - begun) / 1000) * load.rate)
        for (; sent < due; sent++) {
          const p = request(rec, port, '/', false).then(() => inFlight.delete(p))
          inFlight.add(p)
        }
      }, 5)
    }))
  }
  return {
    recorder: rec,
    async stop () {
      running = false
      await Promise.all(loops)
      lag.disable()
      const ms = (ns) => Math.round(ns / 1e4) / 100
      rec.clientLag = { p50: ms(lag.percentile(50)), p99: ms(lag.percentile(99)), max: ms(lag.max) }
      if (agent !== false) agent.destroy()
      return rec
    }
  }
}

module.exports = { Recorder, startLoad, REQUEST_TIMEOUT }
