'use strict'
// The ways to replace a running server that the bench compares, on the same app (bench/app.js).
// A subject starts the app, reloads it (resolving with the reload's timings, on the bench's
// clock), stops it, and kills by pid whatever it started if something goes wrong.
const { spawn } = require('node:child_process')
const { openSync, closeSync } = require('node:fs')
const { join } = require('node:path')

const APP = join(__dirname, '..', 'app.js')
const CLI = join(__dirname, '..', '..', 'dist', 'cli.js')
/** The longest a reload or a stop may take before the run fails (ms). */
const STEP_TIMEOUT = 30000
/** Names of the subjects defined here only (bench.js has the others'). */
const NAMES = {
  run: 'fastify-hot-restart run (the supervisor spawns each generation)',
  beside: 'control: a copy of the app boots beside it, nothing is replaced'
}

/**
 * @typedef {object} ReloadTimings
 * @property {number} triggeredAt the signal (or command) that starts the reload
 * @property {number} listeningAt the new generation's listen() has resolved
 * @property {number} doneAt the reload is over (the next may start): the predecessor exited
 *   (and, for fastify-hot-restart, its successor has seen it), or the new one listens
 * @property {number[]} drainMs per predecessor: draining -> exited
 * @property {number[]} [predecessorCpuMs] per predecessor: its CPU from its successor's ready to its exit
 * @property {number[]} [predecessorStallMs] per predecessor: its longest event-loop stall over that time
 * @property {number[]} [predecessorBootStallMs] per predecessor: its longest stall from the signal to its successor's ready
 * @property {number[]} [successorStallMs] per successor: its longest stall from its listen() to its predecessor's exit
 * @property {number[]} from pids replaced
 * @property {number[]} to pids serving after
 */

/** Spawns bench/app.js (or `args`) as `subject`; stderr goes to a file in ctx.dir, stdout nowhere. */
function spawnApp (ctx, subject, env = {}, args = [APP]) {
  const err = openSync(join(ctx.dir, 'app.stderr.log'), 'a')
  const child = spawn(process.execPath, args, {
    env: { ...ctx.env, BENCH_SUBJECT: subject, BENCH_REPORT: ctx.reports.path, PORT: '0', ...env },
    stdio: ['ignore', 'ignore', err]
  })
  closeSync(err)
  child.on('error', () => {})
  ctx.spawned.add(child.pid)
  child.once('exit', () => ctx.spawned.delete(child.pid))
  return child
}

/** Starts one generation; resolves once it listens. */
async function boot (ctx, subject, env) {
  const since = performance.now()
  const child = spawnApp(ctx, subject, env)
  const exited = new Promise((resolve, reject) => child.once('exit', code => reject(new Error(`${subject} app exited (code ${code}) before it listened; see ${join(ctx.dir, 'app.stderr.log')}`))))
  const p = await Promise.race([ctx.reports.nextListening(since, `the ${subject} app to listen`, new Set(), STEP_TIMEOUT), exited])
  exited.catch(() => {})
  return p
}

/** SIGTERM to `pid`; resolves once it exited. */
async function terminate (ctx, pid, signal = 'SIGTERM') {
  try { process.kill(pid, signal) } catch { return }
  await ctx.reports.exited(pid, STEP_TIMEOUT)
}

/**
 * Sends `signal` to `pid` (the serving process, or the supervisor) and follows the reload of
 * `from` it starts: resolves with the new generation's report and the reload's timings.
 * `hot`: fastify-hot-restart, which measures inside its processes and refuses a reload until
 * the successor has seen its predecessor exit (so its end is that moment).
 */
async function followReload (ctx, from, pid, signal, hot) {
  const seen = new Set(ctx.reports.processes.keys())
  const triggeredAt = performance.now()
  process.kill(pid, signal)
  const next = await ctx.reports.nextListening(triggeredAt, `the generation after ${from.pid} to listen`, seen, STEP_TIMEOUT)
  const old = await ctx.reports.exited(from.pid, STEP_TIMEOUT)
  const settled = hot ? await ctx.reports.settled(next.pid, STEP_TIMEOUT) : old
  const timings = {
    triggeredAt,
    listeningAt: next.listeningAt,
    doneAt: Math.max(old.exitedAt, settled.settledAt ?? old.exitedAt),
    drainMs: [old.exitedAt - (old.drainingAt ?? old.exitedAt)],
    // measured inside the processes (bench/app.js)
    ...hot && {
      predecessorCpuMs: [old.exitCpuMs],
      predecessorStallMs: [old.exitStallMs],
      predecessorBootStallMs: [old.exitBootStallMs],
      successorStallMs: [settled.settledStallMs]
    },
    from: [from.pid],
    to: [next.pid]
  }
  return { next, timings }
}

/**
 * fastify-hot-restart under its supervisor (`fastify-hot-restart run`, one worker): a reload is
 * SIGHUP to the supervisor, which spawns the next generation (the serving process does not).
 */
function supervised (ctx) {
  let supervisor
  let current
  return {
    name: NAMES.run,
    async start () {
      const since = performance.now()
      supervisor = spawnApp(ctx, 'hot', { PID_FILE: join(ctx.dir, 'run.pid') }, [CLI, 'run', '--', process.execPath, APP])
      current = await ctx.reports.nextListening(since, 'the app under run to listen', new Set(), STEP_TIMEOUT)
      return current
    },
    serving: () => [current.pid],
    async reload () {
      const { next, timings } = await followReload(ctx, current, supervisor.pid, 'SIGHUP', true)
      current = next
      return timings
    },
    async stop () {
      try { process.kill(supervisor.pid, 'SIGTERM') } catch {}
      await ctx.reports.exited(current.pid, STEP_TIMEOUT)
      if (supervisor.exitCode === null && supervisor.signalCode === null) await new Promise(resolve => supervisor.once('exit', resolve))
    }
  }
}

/**
 * A subject whose reload is a signal to the serving process, which starts its successor on the
 * same socket and then drains: fastify-hot-restart, and the server.close() control.
 */
function handOver (name, subject, ctx, env = {}) {
  let current
  return {
    name,
    async start () {
      current = await boot(ctx, subject, { PID_FILE: join(ctx.dir, `${subject}.pid`), ...env })
      return current
    },
    serving: () => [current.pid],
    async reload () {
      const { next, timings } = await followReload(ctx, current, current.pid, 'SIGUSR2', subject === 'hot')
      current = next
      return timings
    },
    async stop () { await terminate(ctx, current.pid) }
  }
}

/**
 * The control of a reload's window: the served app is never replaced. Its "reload" boots a
 * second copy of it on a port of its own, waits until that copy listens, and stops it. What
 * these windows cost the clients is what a successor's boot beside the server costs on this
 * machine, whatever the successor then does: the floor of every reload that boots one.
 */
function bootBeside (ctx) {
  let current
  return {
    name: NAMES.beside,
    async start () {
      current = await boot(ctx, 'hot', { PID_FILE: join(ctx.dir, 'beside.pid') })
      return current
    },
    serving: () => [current.pid],
    async reload () {
      const triggeredAt = performance.now()
      const copy = await boot(ctx, 'hot', { PID_FILE: join(ctx.dir, 'beside-copy.pid') })
      await terminate(ctx, copy.pid)
      const gone = ctx.reports.processes.get(copy.pid)
      return {
        triggeredAt,
        listeningAt: copy.listeningAt,
        doneAt: gone.exitedAt,
        drainMs: [gone.exitedAt - (gone.drainingAt ?? gone.exitedAt)],
        from: [current.pid],
        to: [current.pid]
      }
    },
    async stop () { await terminate(ctx, current.pid) }
  }
}

/** Naive restart: stop the process (its graceful SIGTERM), then start a new one on the port. */
function naive (ctx) {
  let current
  return {
    name: 'naive restart',
    async start () {
      current = await boot(ctx, 'bare')
      return current
    },
    serving: () => [current.pid],
    async reload () {
      const from = current
      const triggeredAt = performance.now()
      await terminate(ctx, from.pid)
      const old = ctx.reports.processes.get(from.pid)
      current = await boot(ctx, 'bare', { PORT: String(from.port) })
      return {
        triggeredAt,
        listeningAt: current.listeningAt,
        doneAt: current.listeningAt,
        drainMs: [old.exitedAt - (old.drainingAt ?? old.exitedAt)],
        from: [from.pid],
        to: [current.pid]
      }
    },
    async stop () { await terminate(ctx, current.pid) }
  }
}

/**
 * SIGKILL to every process the bench started or that reported to it and has not exited:
 * the teardown when something went wrong.
 */
function killAll (ctx) {
  const pids = new Set([...ctx.spawned, ...ctx.reports.alive()])
  for (const pid of pids) {
    const p = ctx.reports.processes.get(pid)
    if (p !== undefined && p.exitedAt !== undefined) continue
    try { process.kill(pid, 'SIGKILL') } catch {}
  }
}

const SUBJECTS = {
  hot: (ctx) => handOver('fastify-hot-restart', 'hot', ctx),
  // the same without connection hand-over: every kept-alive connection drained and reopened
  drain: (ctx) => handOver('fastify-hot-restart (connectionHandover: false)', 'hot', ctx, { BENCH_HANDOVER: '0' }),
  // issue 12 item 6: the successor at a lower CPU priority while it boots, warmed up before it listens, both
  nice: (ctx) => handOver('fastify-hot-restart (successorNice: 10)', 'hot', ctx, { BENCH_NICE: '10' }),
  warm: (ctx) => handOver('fastify-hot-restart (warmup: 1,000 requests)', 'hot', ctx, { BENCH_WARMUP: '1000' }),
  nicewarm: (ctx) => handOver('fastify-hot-restart (successorNice: 10, warmup: 1,000 requests)', 'hot', ctx, { BENCH_NICE: '10', BENCH_WARMUP: '1000' }),
  run: supervised,
  beside: bootBeside,
  naive,
  close: (ctx) => handOver('server.close() drain', 'close', ctx)
}

module.exports = { SUBJECTS, NAMES, boot, terminate, killAll, spawnApp, STEP_TIMEOUT }
