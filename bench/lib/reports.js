'use strict'
// The bench's side of BENCH_REPORT: a unix socket that every app process connects to and
// reports on (listening, draining). A connection that closes means its process exited. Every
// event is timestamped here, on the bench's clock (performance.now()).
const net = require('node:net')
const { join } = require('node:path')
const { createInterface } = require('node:readline')

/**
 * Starts the report server in `dir`.
 * @returns {Promise<Reports>}
 */
async function startReports (dir) {
  const path = join(dir, 'report.sock')
  /**
   * pid -> { pid, listeningAt, port, settledAt, drainingAt, exitedAt }, and what the hot
   * subject measures inside: settledStallMs (as a successor), exitCpuMs and exitStallMs (as a
   * predecessor, from its successor's ready to its exit)
   */
  const processes = new Map()
  const waiters = new Set()
  const sockets = new Set()
  const check = () => {
    for (const w of waiters) {
      const found = w.match(processes)
      if (found !== undefined) { waiters.delete(w); clearTimeout(w.timer); w.resolve(found) }
    }
  }
  const server = net.createServer(socket => {
    sockets.add(socket)
    let pid
    createInterface({ input: socket }).on('line', text => {
      let line
      try { line = JSON.parse(text) } catch { return }
      pid = line.pid
      const p = processes.get(pid) ?? { pid, exitedAt: undefined }
      processes.set(pid, p)
      if (line.event === 'listening') { p.listeningAt = performance.now(); p.port = line.port }
      if (line.event === 'draining') p.drainingAt = performance.now()
      if (line.event === 'settled') { p.settledAt = performance.now(); p.settledStallMs = line.stallMs }
      if (line.event === 'exit') { p.exitCpuMs = line.cpuMs; p.exitStallMs = line.stallMs; p.exitBootStallMs = line.bootStallMs }
      check()
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      sockets.delete(socket)
      const p = processes.get(pid)
      if (p !== undefined) { p.exitedAt = performance.now(); check() }
    })
  })
  await new Promise((resolve, reject) => server.listen(path, resolve).once('error', reject))

  return {
    path,
    processes,
    /**
     * Resolves with what `match(processes)` returns once it is not undefined; rejects after
     * `timeout` ms with `what` in the message.
     */
    waitFor (match, what, timeout = 30000) {
      const found = match(processes)
      if (found !== undefined) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const w = { match, resolve, timer: setTimeout(() => { waiters.delete(w); reject(new Error(`timed out waiting for ${what}`)) }, timeout) }
        waiters.add(w)
      })
    },
    /** Resolves with the first process that listens after `since` (a pid not in `not`). */
    nextListening (since, what, not = new Set(), timeout) {
      return this.waitFor(ps => [...ps.values()].find(p => p.listeningAt >= since && !not.has(p.pid)), what, timeout)
    },
    /** Resolves with the first `n` live processes that listen after `since` (pids not in `not`). */
    listening (n, since, what, not = new Set(), timeout) {
      return this.waitFor(ps => {
        const found = [...ps.values()].filter(p => p.listeningAt >= since && p.exitedAt === undefined && !not.has(p.pid))
        return found.length >= n ? found.slice(0, n) : undefined
      }, what, timeout)
    },
    /** Resolves once `pid` has reported `settled`. */
    settled (pid, timeout) {
      return this.waitFor(ps => ps.get(pid)?.settledAt !== undefined ? ps.get(pid) : undefined, `pid ${pid} to learn that its predecessor exited`, timeout)
    },
    /** Resolves once `pid` has exited (its report connection closed). */
    exited (pid, timeout) {
      return this.waitFor(ps => ps.get(pid)?.exitedAt !== undefined ? ps.get(pid) : undefined, `pid ${pid} to exit`, timeout)
    },
    /** Pids that reported and have not exited. */
    alive () {
      return [...processes.values()].filter(p => p.exitedAt === undefined).map(p => p.pid)
    },
    close () {
      for (const w of waiters) clearTimeout(w.timer)
      waiters.clear()
      for (const s of sockets) s.destroy()
      return new Promise(resolve => server.close(() => resolve()))
    }
  }
}

module.exports = { startReports }
