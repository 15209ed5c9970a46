'use strict'
// Reload metrics for Prometheus, from the plugin's diagnostics_channel events. Start it with
// `node example-app/metrics.js`, reload it with `kill -USR2 "$(cat example-app/metrics.pid)"`,
// and read `curl 127.0.0.1:3000/metrics`.
//
// The counters must survive the process swap: each reload replaces the process that counts.
// They live in a small JSON file (METRICS_FILE) that every event updates and every scrape
// reads, so the successor serves what its predecessors counted, including the predecessor's
// own drain, which ends after the successor already serves.
const diagnostics = require('node:diagnostics_channel')
const { readFileSync, renameSync, writeFileSync } = require('node:fs')
const { join } = require('node:path')
const Fastify = require('fastify')
// in your app: require('fastify-hot-restart')
const hotRestart = require('..')

const FILE = process.env.METRICS_FILE ?? join(__dirname, 'metrics.json')
const ZERO = { reloads: 0, failedReloads: 0, lastReloadSeconds: 0, moved: 0, closedIdle: 0, forced: 0 }

function load () {
  try {
    return { ...ZERO, ...JSON.parse(readFileSync(FILE, 'utf8')) }
  } catch {
    return { ...ZERO }
  }
}

function update (change) {
  const metrics = load()
  change(metrics)
  // atomic: a scrape never reads half a file
  const temp = `${FILE}.${process.pid}.tmp`
  writeFileSync(temp, JSON.stringify(metrics))
  renameSync(temp, FILE)
}

diagnostics.subscribe('fastify-hot-restart:upgrade:ready', ({ signalToReadyMs }) => update(m => {
  m.reloads++
  m.lastReloadSeconds = signalToReadyMs / 1000
}))
diagnostics.subscribe('fastify-hot-restart:upgrade:failed', () => update(m => { m.failedReloads++ }))
diagnostics.subscribe('fastify-hot-restart:drain:end', ({ report }) => update(m => {
  m.moved += report.moved
  m.closedIdle += report.closedIdle
  m.forced += report.forced
}))

/** The Prometheus text format. */
function exposition (m) {
  const metric = (name, type, help, value) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`
  return metric('fastify_hot_restart_reloads_total', 'counter', 'Reloads whose successor became ready.', m.reloads) +
    metric('fastify_hot_restart_failed_reloads_total', 'counter', 'Reloads whose successor failed; the server served on.', m.failedReloads) +
    metric('fastify_hot_restart_last_reload_seconds', 'gauge', 'From the reload signal to the successor ready, last reload.', m.lastReloadSeconds) +
    metric('fastify_hot_restart_connections_moved_total', 'counter', 'Connections handed to a successor.', m.moved) +
    metric('fastify_hot_restart_connections_closed_idle_total', 'counter', 'Idle connections a drain closed.', m.closedIdle) +
    metric('fastify_hot_restart_connections_forced_total', 'counter', 'Connections closed at drainTimeout.', m.forced)
}

const app = Fastify({ logger: true })

async function main () {
  await app.register(hotRestart, { pidFile: process.env.PID_FILE ?? join(__dirname, 'metrics.pid') })
  app.get('/', async () => ({ pid: process.pid, generation: app.hotRestart.generation }))
  app.get('/metrics', async (request, reply) => reply.type('text/plain; version=0.0.4').send(exposition(load())))
  await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })
}

main().catch(err => {
  app.log.error(err)
  process.exit(1)
})
