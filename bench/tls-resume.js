'use strict'
// `node bench/tls-resume.js --key key.pem --cert cert.pem [--connections 300] [--tls 1.3]`: what a
// TLS session resumption saves against a full handshake, on this machine. A TLS server (in a
// child process, so its CPU is its own: /proc) takes `connections` connections one after another
// from a client that does a full handshake each time, then as many that resume the session of
// the first (TLS session ticket); for each, the client's time from connect to secure, and the
// server's CPU per connection. Loopback only; bounded; kills what it started.
const { fork } = require('node:child_process')
const { readFileSync } = require('node:fs')
const os = require('node:os')
const tls = require('node:tls')
const { parseArgs } = require('node:util')
const { cpuMs } = require('./lib/procfs')
const { summarize } = require('./lib/stats')

if (process.argv[2] === '--server') {
  const [, , , key, cert, version] = process.argv
  const server = tls.createServer({ key: readFileSync(key), cert: readFileSync(cert), minVersion: version, maxVersion: version }, socket => socket.end('ok'))
  server.listen(0, '127.0.0.1', () => process.send(server.address().port))
  process.on('disconnect', () => process.exit(0))
} else {
  const { values: args } = parseArgs({ options: { key: { type: 'string' }, cert: { type: 'string' }, connections: { type: 'string', default: '300' }, tls: { type: 'string', default: '1.3' } } })
  const version = `TLSv${args.tls}`
  const n = Number(args.connections)
  const server = fork(__filename, ['--server', args.key, args.cert, version])
  const limit = setTimeout(() => { server.kill('SIGKILL'); process.exit(2) }, 120000)
  const connect = (port, session) => new Promise((resolve, reject) => {
    const started = performance.now()
    const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, session, minVersion: version, maxVersion: version })
    let ticket
    socket.once('session', s => { ticket = s })
    socket.once('secureConnect', () => {
      const ms = performance.now() - started
      const reused = socket.isSessionReused()
      socket.once('end', () => resolve({ ms, reused, ticket: ticket ?? socket.getSession() }))
      socket.resume()
    })
    socket.once('error', reject)
  })
  server.once('message', async port => {
    const run = async (session) => {
      const before = cpuMs(server.pid)
      const times = []
      let reused = 0
      for (let i = 0; i < n; i++) {
        const r = await connect(port, session)
        times.push(r.ms)
        if (r.reused) reused++
      }
      const s = summarize(times, Infinity)
      return { p50: s.p50.toFixed(2), p99: s.p99.toFixed(2), serverCpuMsPerConnection: ((cpuMs(server.pid) - before) / n).toFixed(2), reused }
    }
    await run(undefined) // warm both sides
    const first = await connect(port)
    const full = await run(undefined)
    const resumed = await run(first.ticket)
    console.log(`| ${args.cert} | ${version} | full handshake | ${full.p50} / ${full.p99} ms | ${full.serverCpuMsPerConnection} ms | ${full.reused} of ${n} |`)
    console.log(`| ${args.cert} | ${version} | resumed (session ticket) | ${resumed.p50} / ${resumed.p99} ms | ${resumed.serverCpuMsPerConnection} ms | ${resumed.reused} of ${n} |`)
    console.log(`load average ${os.loadavg().map(l => l.toFixed(1)).join(' ')}`)
    clearTimeout(limit)
    server.disconnect()
  })
}
