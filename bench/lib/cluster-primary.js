'use strict'
// Node's cluster module around bench/app.js (plain Fastify): `node cluster-primary.js N` forks N
// workers; the primary accepts the connections and hands them out in turn (round-robin, the
// default on Linux). SIGTERM stops the workers (their graceful stop) and then the primary.
const cluster = require('node:cluster')
const { join } = require('node:path')

const workers = Number(process.argv[2] ?? 2)
cluster.setupPrimary({ exec: join(__dirname, '..', 'app.js') })
for (let i = 0; i < workers; i++) cluster.fork({ BENCH_SUBJECT: 'bare' })
process.once('SIGTERM', () => {
  for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM')
  cluster.once('exit', function exited () {
    if (Object.keys(cluster.workers).length === 0) process.exit(0)
    else cluster.once('exit', exited)
  })
})
