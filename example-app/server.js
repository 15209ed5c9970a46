'use strict'
// The example app. `npm run example` runs it under the supervisor (`fastify-hot-restart run`):
// the supervisor's pid never changes, so the terminal stays with it across reloads and Ctrl-C
// stops everything. `npm run example:standalone` runs `node server.js` alone: each reload then
// replaces the process itself. With either, `npm run reload` reloads it and `npm run stop`
// stops it (both read example-app/app.pid; all from the repository root, or from example-app/).
const { appendFileSync } = require('node:fs')
const { join } = require('node:path')
const Fastify = require('fastify')
// in your app: require('fastify-hot-restart')
const hotRestart = require('..')

const app = Fastify({ logger: true })
let served = 0

async function main () {
  await app.register(hotRestart, {
    // standalone, this process writes it; under the supervisor, the supervisor writes its own
    pidFile: process.env.PID_FILE ?? join(__dirname, 'app.pid'),
    drainTimeout: 10000,
    // 200 while serving, 503 while draining: for load balancers and container health checks
    readinessUrl: '/ready'
  })

  app.addHook('onResponse', async () => { served++ })

  // Real cleanup: flush this generation's count of served requests to a file.
  app.hotRestart.atExit(() => {
    const line = `${new Date().toISOString()} pid ${process.pid} generation ${app.hotRestart.generation} served ${served}\n`
    appendFileSync(join(__dirname, 'served.log'), line)
    app.log.info({ served }, 'flushed the served-requests counter to example-app/served.log')
  })

  // RELEASE: from the environment (`run --env-file` gives each generation the file's values)
  app.get('/', async () => ({ pid: process.pid, generation: app.hotRestart.generation, served, release: process.env.RELEASE }))

  app.get('/slow', async (request) => {
    const ms = Math.min(Number(request.query.ms) || 1000, 60000)
    await new Promise(resolve => setTimeout(resolve, ms))
    return { pid: process.pid, generation: app.hotRestart.generation, ms }
  })

  await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })
}

main().catch(err => {
  app.log.error(err)
  process.exit(1)
})
