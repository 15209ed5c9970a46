// The supervisor's state machine (lib/supervisor.ts) in-process, with fake workers
// (test/helpers/fake-process.ts): reloads, crash restarts with backoff, stops, in milliseconds.
// The same with real processes: test/e2e/supervisor*.test.ts.
import t from 'tap'
import { Supervisor } from '../../lib/supervisor'
import { fakeLogger as logger, fakeSpawn, type FakeChild } from '../helpers/fake-process'

function supervisor (options: { workers?: number, maxRestarts?: number, readyTimeout?: number } = {}) {
  const log = logger()
  const fake = fakeSpawn()
  const s = new Supervisor({ command: 'app', args: [], cwd: process.cwd(), pidFile: undefined, readyTimeout: options.readyTimeout ?? 10_000, maxRestarts: options.maxRestarts ?? 10, workers: options.workers, log, spawn: fake.spawn })
  /** The next worker spawned; it exits when told to drain or shut down, as a generation does. */
  const worker = async (): Promise<FakeChild> => {
    const child = await fake.next()
    child.onMessage = (message) => { if (message.hotRestart === 'drain' || message.hotRestart === 'shutdown') child.exit(0) }
    return child
  }
  /** Starts generation 1 (one ready worker per slot). */
  const started = async (): Promise<FakeChild[]> => {
    const starting = s.start()
    const first: FakeChild[] = []
    for (let i = 0; i < (options.workers ?? 1); i++) {
      const w = await worker()
      w.ready()
      first.push(w)
    }
    await starting
    return first
  }
  return { s, log, fake, worker, started }
}

const orders = (child: FakeChild): unknown[] => child.sent.map(m => (m as { hotRestart: string }).hotRestart)

t.test('a drained worker has gone once its channel has closed too: what it sent before its exit is relayed first', async t => {
  const { s, worker, started } = supervisor()
  const [gen1] = await started()
  // its exit is seen while its channel still holds what it sent last (a connection handed over)
  gen1!.onMessage = (message) => { if (message.hotRestart === 'drain') gen1!.emit('exit', 0, null) }
  const reloading = s.reload('SIGHUP')
  const gen2 = await worker()
  gen2.ready()
  await reloading
  await new Promise(resolve => setImmediate(resolve))
  await new Promise(resolve => setImmediate(resolve))
  t.same(orders(gen2), ['predecessor'], 'the new generation is not told yet')
  const told = new Promise<void>(resolve => { gen2.onMessage = (m) => { if (m.hotRestart === 'predecessor-exited') resolve() } })
  gen1!.connected = false
  gen1!.emit('disconnect')
  await told
  t.same(orders(gen2), ['predecessor', 'predecessor-exited'], 'then it is')
  // a channel that never closes (a child of the worker holds it): told a moment later anyway
  gen2.onMessage = (message) => { if (message.hotRestart === 'drain') gen2.emit('exit', 0, null) }
  const again = s.reload('SIGHUP')
  const gen3 = await worker()
  gen3.ready()
  await again
  await new Promise<void>(resolve => { gen3.onMessage = (m) => { if (m.hotRestart === 'predecessor-exited') resolve() } })
  t.same(orders(gen3), ['predecessor', 'predecessor-exited'])
  gen3.exit(0)
  await s.stop()
})

t.test('a reload: the next generation is ready, the serving one drains; one reload at a time', async t => {
  const { s, log, worker, started } = supervisor()
  const [gen1] = await started()
  t.equal(s.state, 'serving')
  t.same(orders(gen1!), ['predecessor-exited'])
  const reloading = s.reload('SIGHUP')
  t.equal(s.state, 'reloading')
  await t.rejects(s.reload('SIGHUP'), { code: 'FST_HOT_RESTART_UPGRADE_IN_PROGRESS' })
  const gen2 = await worker()
  t.match(JSON.parse(gen2.env.FASTIFY_HOT_RESTART!), { pid: process.pid, generation: 2 })
  t.equal(gen2.env.FASTIFY_HOT_RESTART_SUPERVISOR, String(process.pid))
  gen2.ready()
  t.match(await reloading, { pid: gen2.pid, generation: 2 })
  t.same(orders(gen1!), ['predecessor-exited', 'drain'])
  await log.waitFor('supervisor.reload.ready')
  await new Promise(resolve => setImmediate(resolve))
  t.same(orders(gen2), ['predecessor', 'predecessor-exited'], 'told when generation 1 has exited')
  t.equal(s.generation, 2)
  await s.stop()
  t.equal(await s.done, 0)
  t.ok(gen2.exited)
})

t.test('a worker asks for an upgrade: refused while starting, run and answered once serving', async t => {
  const { s, worker } = supervisor()
  const starting = s.start()
  const gen1 = await worker()
  gen1.emit('message', { hotRestart: 'upgrade', id: 1 })
  await new Promise(resolve => setImmediate(resolve))
  t.match(gen1.sent.at(-1), { hotRestart: 'upgraded', id: 1, error: { code: 'FST_HOT_RESTART_NOT_READY' } })
  gen1.ready()
  await starting
  gen1.emit('message', { hotRestart: 'upgrade', id: 2 })
  const gen2 = await worker()
  gen2.ready()
  while (!gen1.sent.some(m => (m as { id?: number }).id === 2)) await new Promise(resolve => setImmediate(resolve))
  t.match(gen1.sent.find(m => (m as { id?: number }).id === 2), { hotRestart: 'upgraded', id: 2, result: { pid: gen2.pid, generation: 2 } })
  await s.stop()
})

t.test('a reload whose generation exits before it is ready fails; the serving one serves on', async t => {
  const { s, log, worker, started } = supervisor()
  const [gen1] = await started()
  const reloading = s.reload('SIGHUP')
  const gen2 = await worker()
  gen2.exit(1)
  await t.rejects(reloading, { code: 'FST_HOT_RESTART_SUCCESSOR_EXITED' })
  t.equal(s.state, 'serving')
  t.match(log.lines.find(l => l.obj.event === 'supervisor.reload.failed'), { obj: { code: 'FST_HOT_RESTART_SUCCESSOR_EXITED', generation: 2 } })
  t.same(orders(gen1!), ['predecessor-exited'], 'generation 1 was not told to drain')
  await s.stop()
})

t.test('a crash: the next worker starts at once; a reload meanwhile is refused as CRASH_RESTART; past maxRestarts it gives up', async t => {
  const { s, log, worker, started } = supervisor({ maxRestarts: 2 })
  const [gen1] = await started()
  gen1!.exit(1)
  await log.waitFor('supervisor.crashed')
  t.equal(s.state, 'restarting')
  await t.rejects(s.reload('SIGHUP'), { code: 'FST_HOT_RESTART_CRASH_RESTART' })
  const gen2 = await worker()
  gen2.ready()
  t.match((await log.waitFor('supervisor.restarted')).obj, { servingPid: gen2.pid, generation: 2, delayMs: 0 })
  t.equal(s.state, 'serving')
  // the second crash in the window waits 100 ms (backoff.ts)
  gen2.exit(null, 'SIGKILL')
  const gen3 = await worker()
  gen3.ready()
  t.match((await log.waitFor('supervisor.restarted', log.lines.indexOf(log.lines.find(l => l.obj.servingPid === gen2.pid)!) + 1)).obj, { servingPid: gen3.pid, delayMs: 100 })
  gen3.exit(1)
  t.equal(await s.done, 1, 'the third crash within the window: it gives up')
  t.match(log.lines.find(l => l.obj.event === 'supervisor.gave-up'), { obj: { crashes: 3, maxRestarts: 2 } })
})

t.test('a restart that fails to boot counts as a crash', async t => {
  const { s, log, worker, started } = supervisor({ maxRestarts: 1 })
  const [gen1] = await started()
  gen1!.exit(1)
  const gen2 = await worker()
  gen2.exit(1)
  t.equal(await s.done, 1)
  t.ok(log.lines.some(l => l.obj.event === 'supervisor.restart.failed'))
})

t.test('a crash during a reload: the new generation takes over; a failed reload restarts what is missing', async t => {
  const { s, log, worker, started } = supervisor({ workers: 2 })
  const [a, b] = await started()
  const reloading = s.reload('SIGHUP')
  // with no socket held (these workers hand none back), the first worker boots alone
  const c = await worker()
  a!.exit(1)
  await log.waitFor('supervisor.crashed')
  t.equal(s.state, 'reloading', 'no restart while the reload may replace it')
  c.exit(1)
  await t.rejects(reloading, { code: 'FST_HOT_RESTART_SUCCESSOR_EXITED' })
  const restarted = await worker()
  restarted.ready()
  t.match((await log.waitFor('supervisor.restarted')).obj, { servingPid: restarted.pid })
  t.same(orders(b!), ['predecessor-exited'])
  await s.stop()
})

t.test('a stop while generation 1 boots kills it; a second signal forces a worker that ignores SIGTERM', async t => {
  const first = supervisor()
  const starting = first.s.start()
  const booting = await first.worker()
  await first.s.stop()
  await t.rejects(starting, { message: /was killed by SIGTERM/ })
  t.same(booting.signals, ['SIGTERM'])
  t.equal(await first.s.done, 0)

  const second = supervisor()
  const [stubborn] = await second.started()
  stubborn!.onMessage = () => {} // it does not shut down
  void second.s.stop()
  await second.log.waitFor('supervisor.stopping')
  await t.rejects(second.s.reload('SIGHUP'), { code: 'FST_HOT_RESTART_SHUTTING_DOWN' })
  second.s.force()
  t.equal(await second.s.done, 1)
  t.same(stubborn!.signals, ['SIGKILL'])
})

t.test('a stop between generation 1 being ready and the supervisor serving stops it: no crash restart', async t => {
  const { s, log, worker } = supervisor()
  const starting = s.start()
  const gen1 = await worker()
  gen1.ready()
  // before start() goes on (its await of the ready worker resolves on a later microtask)
  const stopped = s.stop()
  await starting.catch(() => {})
  await stopped
  t.equal(await s.done, 0, 'the supervisor exits 0')
  t.equal(s.state, 'stopping', 'and stays stopping')
  t.notOk(log.lines.some(l => l.obj.event === 'supervisor.crashed'), 'generation 1 shutting down is no crash')
  // still counted as booting when the stop came: stopped as a booting worker is, by SIGTERM
  // (a generation shuts down gracefully on it), and told nothing else
  t.same([gen1.signals, orders(gen1)], [['SIGTERM'], []], 'stopped, and never told to serve')
})
