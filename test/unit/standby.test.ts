// Hot standby (`run --standby`, lib/standby.ts) in-process, with fake workers
// (test/helpers/fake-process.ts): the spare stands by, takes over a crash at once, is replaced
// by a reload, is booted again when it fails, and goes with a stop. With real processes:
// test/e2e/supervisor-standby.test.ts.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import { realPriority, SPARE_NICE, type Priority } from '../../lib/standby'
import { Supervisor } from '../../lib/supervisor'
import { fakeLogger as logger, fakeSpawn, type FakeChild } from '../helpers/fake-process'

/** A priority that records what it was asked. */
function fakePriority (raises: 'ok' | 'throw' = 'ok'): Priority & { calls: string[] } {
  const calls: string[] = []
  return {
    calls,
    lower (pid) { calls.push(`lower ${pid}`); return SPARE_NICE },
    raise (pid) {
      calls.push(`raise ${pid}`)
      if (raises === 'throw') throw new Error('EACCES')
    }
  }
}

function supervisor (t: Test, options: { workers?: number, maxRestarts?: number, readyTimeout?: number, raises?: 'ok' | 'throw' } = {}) {
  const log = logger()
  const fake = fakeSpawn()
  const priority = fakePriority(options.raises)
  const s = new Supervisor({ command: 'app', args: [], cwd: process.cwd(), pidFile: undefined, readyTimeout: options.readyTimeout ?? 10_000, maxRestarts: options.maxRestarts ?? 10, workers: options.workers, log, spawn: fake.spawn, standby: priority })
  /** The next process spawned; it exits when told to drain or shut down, as a generation does. */
  const next = async (): Promise<FakeChild> => {
    const child = await fake.next()
    child.onMessage = (message) => { if (message.hotRestart === 'drain' || message.hotRestart === 'shutdown') child.exit(0) }
    return child
  }
  /** The next spare: spawned as one, it stands by. */
  const spare = async (): Promise<FakeChild> => {
    const child = await next()
    t.equal(child.env.FASTIFY_HOT_RESTART_STANDBY, '1', 'spawned as a spare')
    child.emit('message', { hotRestart: 'standing-by', pid: child.pid })
    return child
  }
  const started = async (): Promise<FakeChild[]> => {
    const starting = s.start()
    const first: FakeChild[] = []
    for (let i = 0; i < (options.workers ?? 1); i++) {
      const w = await next()
      t.equal(w.env.FASTIFY_HOT_RESTART_STANDBY, undefined, 'a worker is no spare')
      w.ready()
      first.push(w)
    }
    await starting
    return first
  }
  return { s, log, fake, next, spare, started, priority }
}

/** The first worker spawned that is no spare and not one of `known` (spares may boot meanwhile); it exits when told anything. */
async function restartOf (children: FakeChild[], known: Array<FakeChild | undefined>): Promise<FakeChild> {
  let found: FakeChild | undefined
  while ((found = children.find(c => !known.includes(c) && c.env.FASTIFY_HOT_RESTART_STANDBY === undefined)) === undefined) await new Promise(resolve => setTimeout(resolve, 5))
  const restart = found
  restart.onMessage = () => { restart.exit(0) }
  return restart
}

const orders = (child: FakeChild): unknown[] => child.sent.map(m => (m as { hotRestart: string }).hotRestart)
const tick = (): Promise<void> => new Promise(resolve => setImmediate(resolve))

t.test('a spare stands by at a low priority; a crash: it takes over at once, a reload meanwhile is refused, the next spare boots', async t => {
  const { s, log, spare, started, priority } = supervisor(t)
  const [gen1] = await started()
  const first = await spare()
  t.match((await log.waitFor('standby.ready')).obj, { standbyPid: first.pid, generation: 2, nice: SPARE_NICE })
  t.same(priority.calls, [`lower ${first.pid}`])
  t.same(orders(first), [], 'told nothing while it waits')

  gen1!.exit(null, 'SIGKILL')
  await log.waitFor('standby.go')
  t.same(orders(first), ['go'])
  t.same(priority.calls, [`lower ${first.pid}`, `raise ${first.pid}`], 'raised back before go')
  t.equal(s.state, 'restarting')
  await t.rejects(s.reload('SIGHUP'), { code: 'FST_HOT_RESTART_CRASH_RESTART' }, 'no reload during the takeover')
  first.ready()
  t.match((await log.waitFor('supervisor.restarted')).obj, { servingPid: first.pid, generation: 2, delayMs: 0, standby: true })
  t.equal(s.state, 'serving')
  t.equal(s.generation, 2)
  await tick()
  t.same(orders(first), ['go', 'predecessor-exited'])
  const second = await spare()
  t.match((await log.waitFor('standby.ready', log.lines.findIndex(l => l.obj.event === 'standby.go'))).obj, { standbyPid: second.pid, generation: 3 })

  // a second crash in the window: the spare takes over without the backoff
  first.exit(1)
  await log.waitFor('standby.go', log.lines.findIndex(l => l.obj.standbyPid === second.pid) + 1)
  second.ready()
  const restarted = log.lines.length
  t.match((await log.waitFor('supervisor.restarted', restarted)).obj, { servingPid: second.pid, delayMs: 0 })
  await spare()
  await s.stop()
  t.equal(await s.done, 0)
})

t.test('a reload: the spare of the old code shuts down once the new generation serves, a new one boots', async t => {
  const { s, log, next, spare, started } = supervisor(t)
  const [gen1] = await started()
  const old = await spare()
  await log.waitFor('standby.ready')
  const reloading = s.reload('SIGHUP')
  const gen3 = await next()
  t.equal(gen3.env.FASTIFY_HOT_RESTART_STANDBY, undefined)
  t.same(orders(old), [], 'kept while the reload may fail')
  gen3.ready()
  t.match(await reloading, { pid: gen3.pid, generation: 3 }, 'the reload reports the new generation, not a spare')
  t.match((await log.waitFor('standby.stale')).obj, { standbyPid: old.pid })
  t.same(orders(old), ['shutdown'])
  const fresh = await spare()
  t.match((await log.waitFor('standby.ready', log.lines.findIndex(l => l.obj.event === 'standby.stale'))).obj, { standbyPid: fresh.pid, generation: 4 })
  t.notOk(log.lines.some(l => l.obj.event === 'standby.failed'), 'the stale spare\'s exit is no failure')

  // a spare that boots when a reload serves is killed, and its end is no failure
  while (!gen1!.exited) await tick()
  const reloading2 = s.reload('SIGHUP')
  const gen5 = await next()
  gen5.ready()
  await reloading2
  const booting = await next()
  t.equal(booting.env.FASTIFY_HOT_RESTART_STANDBY, '1')
  while (!gen3.exited || !fresh.exited) await tick()
  t.same(orders(fresh), ['shutdown'])
  const reloading3 = s.reload('SIGHUP')
  const gen7 = await next()
  gen7.ready()
  await reloading3
  t.same(booting.signals, ['SIGTERM'])
  await spare()
  await tick()
  t.notOk(log.lines.some(l => l.obj.event === 'standby.failed'))
  await s.stop()
  t.equal(await s.done, 0)
})

t.test('a spare that fails or exits while it waits is booted again with backoff; past maxRestarts, none until the next reload', async t => {
  const { s, log, next, spare, started } = supervisor(t, { maxRestarts: 2 })
  await started()
  const a = await next()
  a.exit(1) // fails to boot
  t.match((await log.waitFor('standby.failed')).obj, { code: 'FST_HOT_RESTART_SUCCESSOR_EXITED', delayMs: 0 })
  const b = await spare()
  await log.waitFor('standby.ready')
  b.exit(null, 'SIGKILL') // exits while it waits
  t.match((await log.waitFor('standby.failed', log.lines.findIndex(l => l.obj.event === 'standby.ready'))).obj, { delayMs: 100, err: { message: /killed by SIGKILL while it stood by/ } })
  t.equal(s.state, 'serving', 'a spare\'s exit is no crash of the server')
  const c = await next()
  c.exit(1)
  t.match((await log.waitFor('standby.gave-up')).obj, { failures: 3 })
  t.equal(s.state, 'serving')
  // the next reload boots spares again
  const reloading = s.reload('SIGHUP')
  const gen = await next()
  gen.ready()
  await reloading
  await spare()
  await s.stop()
})

t.test('a spare that fails to take over: the crash restart follows as without one', async t => {
  const { s, log, next, spare, started } = supervisor(t, { raises: 'throw' })
  const [gen1] = await started()
  const first = await spare()
  await log.waitFor('standby.ready')
  gen1!.exit(1)
  t.match((await log.waitFor('standby.priority-failed')).obj, { standbyPid: first.pid })
  await log.waitFor('standby.go')
  first.exit(1) // dies instead of listening
  t.match((await log.waitFor('supervisor.restart.failed')).obj, { code: 'FST_HOT_RESTART_SUCCESSOR_EXITED', err: { message: /the spare exited while it took over/ } })
  // the next spare and the restart boot side by side; the restart waits the backoff
  const [x, y] = [await next(), await next()]
  const restart = x.env.FASTIFY_HOT_RESTART_STANDBY === undefined ? x : y
  const boots = restart === x ? y : x
  restart.ready()
  t.match((await log.waitFor('supervisor.restarted', log.lines.findIndex(l => l.obj.event === 'supervisor.restart.failed'))).obj, { servingPid: restart.pid, delayMs: 100, standby: false })
  boots.emit('message', { hotRestart: 'standing-by' })
  await log.waitFor('standby.ready', log.lines.findIndex(l => l.obj.event === 'supervisor.restart.failed'))
  await s.stop()
})

t.test('a spare told to go that does not listen within readyTimeout is killed', async t => {
  const { s, log, spare, started, fake } = supervisor(t, { readyTimeout: 50 })
  const [gen1] = await started()
  const first = await spare()
  await log.waitFor('standby.ready')
  gen1!.exit(1)
  t.match((await log.waitFor('supervisor.restart.failed')).obj, { code: 'FST_HOT_RESTART_SUCCESSOR_TIMEOUT' })
  t.same(first.signals, ['SIGKILL'])
  // the restart (after the backoff), among spares that time out and boot again
  const restart = await restartOf(fake.children, [gen1])
  restart.ready()
  t.match((await log.waitFor('supervisor.restarted')).obj, { servingPid: restart.pid, standby: false })
  await s.stop()
})

t.test('--workers 2: one spare replaces the first worker that crashes; a second crash restarts with backoff', async t => {
  const { s, log, spare, started, fake } = supervisor(t, { workers: 2 })
  const [a, b] = await started()
  const first = await spare()
  await log.waitFor('standby.ready')
  a!.exit(1)
  b!.exit(1)
  await log.waitFor('standby.go')
  first.ready()
  const restart = await restartOf(fake.children, [a, b])
  restart.ready()
  const lines = await Promise.all([log.waitFor('supervisor.restarted'), log.waitFor('supervisor.restarted', log.lines.findIndex(l => l.obj.event === 'supervisor.restarted') + 1)])
  t.same(lines.map(l => l.obj.servingPid).sort(), [first.pid, restart.pid].sort())
  t.equal(s.state, 'serving')
  await s.stop()
})

t.test('a stop: the waiting spare shuts down, a booting one is killed, no spare boots after', async t => {
  const { s, log, spare, started, fake } = supervisor(t)
  await started()
  const waiting = await spare()
  await log.waitFor('standby.ready')
  await s.stop()
  t.same(orders(waiting), ['shutdown'])
  t.equal(await s.done, 0)
  await tick()
  t.equal(fake.children.length, 2, 'nothing spawned after the stop')

  const second = supervisor(t)
  await second.started()
  const booting = await second.next()
  await second.s.stop()
  t.same(booting.signals, ['SIGTERM'])
  t.equal(await second.s.done, 0)
  t.equal(second.fake.children.length, 2)

  // a stop during a takeover: the spare shuts down, no restart and no spare follows
  const third = supervisor(t)
  const [gen1] = await third.started()
  const taking = await third.spare()
  await third.log.waitFor('standby.ready')
  gen1!.exit(1)
  await third.log.waitFor('standby.go')
  await third.s.stop()
  t.same(orders(taking), ['go', 'shutdown'])
  t.equal(await third.s.done, 0)
  await tick()
  t.equal(third.fake.children.length, 2)
  t.notOk(third.log.lines.some(l => l.obj.event === 'supervisor.restart.failed'))
})

t.test('the real priorities on a real process: lowered by SPARE_NICE, every thread raised back', async t => {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' })
  t.teardown(() => { child.kill('SIGKILL') })
  await once(child, 'spawn')
  const pid = child.pid!
  const nice = (): number => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16])
  const priority = realPriority()
  priority.raise(pid) // never lowered: nothing
  const lowered = priority.lower(pid)
  if (lowered === undefined) {
    t.equal(nice(), 0, 'not lowered where it could not be raised back')
  } else {
    t.equal(lowered, SPARE_NICE)
    t.equal(nice(), SPARE_NICE)
    priority.raise(pid)
    t.equal(nice(), 0, 'raised back')
  }
  child.kill('SIGKILL')
  await once(child, 'exit')
  t.equal(priority.lower(pid), undefined, 'a process gone: nothing')
  // `run --standby` uses these
  t.ok(new Supervisor({ command: 'app', args: [], cwd: process.cwd(), pidFile: undefined, readyTimeout: 1, maxRestarts: 1, log: logger(), standby: true }))
})

t.test('a spare that cannot be started is booted again', async t => {
  const log = logger()
  const fake = fakeSpawn()
  let refused = 0
  const spawn: typeof fake.spawn = (command, args, options) => {
    if (options.env?.FASTIFY_HOT_RESTART_STANDBY === '1' && refused++ === 0) throw Object.assign(new Error('spawn E2BIG'), { code: 'E2BIG' })
    return fake.spawn(command, args, options)
  }
  const s = new Supervisor({ command: 'app', args: [], cwd: process.cwd(), pidFile: undefined, readyTimeout: 10_000, maxRestarts: 10, log, spawn, standby: fakePriority() })
  const starting = s.start()
  const gen1 = await fake.next()
  gen1.onMessage = () => { gen1.exit(0) }
  gen1.ready()
  await starting
  t.match((await log.waitFor('standby.failed')).obj, { code: 'FST_HOT_RESTART_SUCCESSOR_EXITED', err: { message: /could not be started \(spawn E2BIG\)/ } })
  const spare = await fake.next()
  spare.onMessage = () => { spare.exit(0) }
  spare.emit('message', { hotRestart: 'standing-by' })
  await log.waitFor('standby.ready')
  await s.stop()
})
