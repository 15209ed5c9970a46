'use strict'
// The Express 5 variant of the example: `npm run example:express`, then `npm run reload`
// and `npm run stop` as for the Fastify one (same pid file).
const { appendFileSync } = require('node:fs')
const http = require('node:http')
const { join } = require('node:path')
const express = require('express')
// in your app: require('fastify-hot-restart/node')
const { hotRestart } = require('../dist/node')

const app = express()
const server = http.createServer(app)
const hr = hotRestart(server, { pidFile: join(__dirname, 'app.pid'), drainTimeout: 10000 })
let served = 0

app.use((req, res, next) => { res.on('finish', () => { served++ }); next() })
app.get('/', (req, res) => res.json({ pid: process.pid, generation: hr.generation, served }))
app.get('/slow', (req, res) => {
  const ms = Math.min(Number(req.query.ms) || 1000, 60000)
  setTimeout(() => res.json({ pid: process.pid, generation: hr.generation, ms }), ms)
})

hr.atExit(() => {
  appendFileSync(join(__dirname, 'served.log'), `${new Date().toISOString()} pid ${process.pid} generation ${hr.generation} served ${served}\n`)
})

hr.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })
  .then(address => console.log(`express example listening on http://${address.address}:${address.port} (pid ${process.pid}, generation ${hr.generation})`))
  .catch(err => { console.error(err); process.exit(1) })
