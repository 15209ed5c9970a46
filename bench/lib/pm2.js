'use strict'
// pm2 reload in cluster mode, the peer Node users pick today: the same app as plain Fastify
// workers (pm2's reload sends SIGINT, the app closes gracefully). pm2 comes from bench/'s own
// package.json; its home is a temp folder; `pm2 kill` (and SIGKILL to its daemon's pid, if it
// survives) ends it.
const { execFile } = require('node:child_process')
const { existsSync, mkdirSync, readFileSync, writeFileSync } = require('node:fs')
const { join } = require('node:path')
const { STEP_TIMEOUT } = require('./subjects')

const PM2 = join(__dirname, '..', 'node_modules', 'pm2', 'bin', 'pm2')
const APP = join(__dirname, '..', 'app.js')
const INSTANCES = 2

/** Why pm2 cannot run here, or undefined if it can. */
function pm2Unavailable () {
  return existsSync(PM2) ? undefined : 'pm2 is not installed in bench/node_modules (npm --prefix bench ci)'
}

function pm2 (ctx, args, timeout = STEP_TIMEOUT) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [PM2, ...args, '--no-color'], { env: ctx.pm2Env, timeout }, (err, stdout, stderr) => {
      if (err) reject(new Error(`pm2 ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`))
      else resolve(stdout)
    })
  })
}

function pm2Subject (ctx) {
  const home = join(ctx.dir, 'pm2')
  mkdirSync(home, { recursive: true })
  ctx.pm2Env = { ...ctx.env, PM2_HOME: home }
  const ecosystem = join(home, 'ecosystem.json')
  let name
  let runs = 0
  // the workers of the current generation
  let current = []
  return {
    name: 'pm2 reload (cluster)',
    async start () {
      name = `bench-${++runs}`
      writeFileSync(ecosystem, JSON.stringify({
        apps: [{
          name,
          script: APP,
          exec_mode: 'cluster',
          instances: INSTANCES,
          // as long as the other subjects' drain deadline, so that pm2 does not kill a worker
          // that still answers requests (its default is 1600 ms)
          kill_timeout: 10000,
          env: { BENCH_SUBJECT: 'pm2', BENCH_REPORT: ctx.reports.path, PORT: '0' }
        }]
      }))
      const since = performance.now()
      await pm2(ctx, ['start', ecosystem])
      current = await ctx.reports.listening(INSTANCES, since, 'the pm2 workers to listen', new Set(), STEP_TIMEOUT)
      return current[0]
    },
    serving: () => current.map(p => p.pid),
    async reload () {
      const from = current
      const seen = new Set(ctx.reports.processes.keys())
      const triggeredAt = performance.now()
      await pm2(ctx, ['reload', name])
      current = await ctx.reports.listening(INSTANCES, triggeredAt, 'the new pm2 workers to listen', seen, STEP_TIMEOUT)
      const old = await Promise.all(from.map(p => ctx.reports.exited(p.pid, STEP_TIMEOUT)))
      return {
        triggeredAt,
        listeningAt: Math.min(...current.map(p => p.listeningAt)),
        doneAt: Math.max(...old.map(p => p.exitedAt)),
        drainMs: old.map(p => p.exitedAt - (p.drainingAt ?? p.exitedAt)),
        from: from.map(p => p.pid),
        to: current.map(p => p.pid)
      }
    },
    async stop () {
      const pids = current.map(p => p.pid)
      await pm2(ctx, ['delete', name])
      await Promise.all(pids.map(pid => ctx.reports.exited(pid, STEP_TIMEOUT)))
    }
  }
}

/** Ends pm2's daemon (and its workers) for good. */
async function killPm2 (ctx) {
  if (ctx.pm2Env === undefined) return
  const pidFile = join(ctx.pm2Env.PM2_HOME, 'pm2.pid')
  let daemon
  try { daemon = Number(readFileSync(pidFile, 'utf8')) } catch {}
  await pm2(ctx, ['kill'], 15000).catch(() => {})
  if (daemon > 0) try { process.kill(daemon, 'SIGKILL') } catch {}
}

module.exports = { pm2Subject, pm2Unavailable, killPm2, INSTANCES }
