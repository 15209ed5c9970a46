// `run --workers N --rolling` in-process (lib/rolling.ts), with fake workers stepped by hand
// (test/helpers/fake-process.ts): the order of a roll (one new worker ready, then one old one
// drains and exits, then the next), never more than N + 1 processes; a new worker that fails to
// boot stops the roll and the workers serving stay; a crash, an old worker gone, a stop
// meanwhile. With real processes: test/e2e/rolling.test.ts.
import t from 'tap'
import { splitCommand } from '../../lib/run'
import { Supervisor } from '../../lib/supervisor'
import type { Logger } from '../../lib/upgrader'
import { cli } from '../helpers/cli'
import { fakeSpawn, type FakeChild } from '../helpers/fake-process'

function logger (): Logger & { events: Array<Record<string, unknown>> } {
  const events: Array<Record<string, unknown>> = []
  const at = () => (obj: object) => { events.push(obj as Record<string, unknown>) }
  return { events, info: at(), warn: at(), error: at() }
}

const orders = (child: FakeChild): string[] => child.sent.map(m => (m as { hotRestart: string }).hotRestart)
const turn = (): Promise<void> => new Promise(resolve => setImmediate(resolve))

/** A rolling supervisor of `workers` fake workers, serving generation 1. */
async function serving (workers: number) {
  const log = logger()
  const fake = fakeSpawn()
  const s = new Supervisor({ command: 'app', args: [], cwd: process.cwd(), pidFile: undefined, readyTimeout: 10_000, maxRestarts: 10, workers, rolling: true, log, spawn: fake.spawn })
  /** The next worker spawned; it exits when told to shut down (a drain is the test's to end). */
  const worker = async (): Promise<FakeChild> => {
    const child = await fake.next()
    child.onMessage = (message) => { if (message.hotRestart === 'shutdown') child.exit(0) }
    return child
  }
  const starting = s.start()
  const first: FakeChild[] = []
  for (let i = 0; i < workers; i++) {
    first.push(await worker())
    first[i]!.ready()
  }
  await starting
  const alive = (): number => fake.children.filter(c => !c.exited).length
  return { s, log, fake, worker, first, alive }
}

t.test('a rolling reload: one new worker ready, one old drains and exits, then the next; at most N + 1 processes', async t => {
  const { s, log, fake, worker, first, alive } = await serving(3)
  const reloading = s.reload('SIGHUP')
  const fresh: FakeChild[] = []
  for (let step = 0; step < 3; step++) {
    const next = await worker()
    fresh.push(next)
    t.equal(alive(), 4, `step ${step + 1}: N + 1 processes while the new worker boots`)
    next.ready()
    while (!orders(first[step]!).includes('drain')) await turn()
    t.match(first[step]!.sent.at(-1), { hotRestart: 'drain', successorPid: next.pid, generation: 2 }, `old worker ${step + 1} drains once new worker ${step + 1} is ready`)
    t.same(first.slice(step + 1).map(orders), first.slice(step + 1).map(() => ['predecessor-exited']), 'the others serve on')
    t.equal(s.state, 'reloading')
    for (let i = 0; i < 5; i++) await turn()
    t.equal(fake.children.length, 3 + step + 1, 'the next new worker waits for the old one to exit')
    t.notOk(fresh.some(f => orders(f).includes('predecessor-exited')), 'the new workers\' predecessor is not done while an old worker is left')
    first[step]!.exit(0)
  }
  t.match(await reloading, { pid: fresh[0]!.pid, generation: 2 })
  t.equal(s.state, 'serving')
  t.equal(s.generation, 2)
  t.same(fresh.map(f => f.env.FASTIFY_HOT_RESTART === undefined), [false, false, false], 'each new worker inherits the sockets')
  t.same(log.events.filter(e => e.event === 'supervisor.roll.replaced').map(e => [e.step, e.of, e.replacedPid, e.servingPid]),
    fresh.map((f, i) => [i + 1, 3, first[i]!.pid, f.pid]))
  t.same(fresh.map(f => orders(f)[0]), ['predecessor', 'predecessor', 'predecessor'], 'each new worker is told the pid of the worker it replaces')
  t.same(fresh.map(f => f.sent[0]), first.map(f => ({ hotRestart: 'predecessor', pid: f.pid })))
  t.ok(fresh.every(f => orders(f).slice(1).every(o => o === 'predecessor-exited') && orders(f).length > 1), 'then that their predecessor has exited')
  t.match(log.events.find(e => e.event === 'supervisor.reload.ready'), { servingPids: fresh.map(f => f.pid), generation: 2 })
  await s.stop()
  t.equal(await s.done, 0)
})

t.test('a new worker that fails to boot stops the roll: the workers serving stay, as one group; the next reload replaces them all', async t => {
  const { s, log, worker, first } = await serving(3)
  const reloading = s.reload('SIGHUP')
  const n1 = await worker()
  n1.ready()
  while (!orders(first[0]!).includes('drain')) await turn()
  first[0]!.exit(0)
  const n2 = await worker()
  n2.exit(1)
  await t.rejects(reloading, { code: 'FST_HOT_RESTART_SUCCESSOR_EXITED' })
  t.equal(s.state, 'serving')
  t.match(log.events.find(e => e.event === 'supervisor.reload.failed'), { code: 'FST_HOT_RESTART_SUCCESSOR_EXITED', generation: 2 })
  t.same(orders(first[1]!), ['predecessor-exited'], 'the old workers not yet replaced were never told to drain')
  t.same(orders(first[2]!), ['predecessor-exited'])
  t.equal(orders(n1).at(-1), 'predecessor-exited', 'the new worker already ready serves on, its predecessor done')
  t.notOk(log.events.some(e => e.event === 'supervisor.crashed'))

  // the next (rolling) reload replaces the three that serve, new and old alike
  const again = s.reload('SIGHUP')
  const replaced: FakeChild[] = []
  for (let step = 0; step < 3; step++) {
    const next = await worker()
    next.ready()
    let drained: FakeChild | undefined
    while ((drained = [n1, first[1]!, first[2]!].find(w => !w.exited && orders(w).includes('drain'))) === undefined) await turn()
    replaced.push(drained)
    drained.exit(0)
  }
  t.match(await again, { generation: 3 })
  t.same(new Set(replaced), new Set([n1, first[1], first[2]]), 'every worker that served was replaced')
  await s.stop()
})

t.test('a new worker that crashes once ready is restarted after the roll; an old worker that exits meanwhile needs no drain', async t => {
  const { s, log, worker, first } = await serving(2)
  const reloading = s.reload('SIGHUP')
  const n1 = await worker()
  n1.ready()
  while (!orders(first[0]!).includes('drain')) await turn()
  first[1]!.exit(1) // not the one draining: no crash restart during the roll, nothing to drain for it
  first[0]!.exit(0)
  const n2 = await worker()
  n2.ready()
  n1.exit(1) // a new worker crashes before the roll ends
  t.match(await reloading, { generation: 2 })
  t.equal(log.events.filter(e => e.event === 'supervisor.roll.replaced').length, 1, 'one old worker was replaced; the other had exited')
  const restarted = await worker()
  restarted.ready()
  for (let i = 0; i < 100 && !log.events.some(e => e.event === 'supervisor.restarted'); i++) await turn()
  t.match(log.events.find(e => e.event === 'supervisor.restarted'), { servingPid: restarted.pid, generation: 3 })
  t.equal(s.state, 'serving')
  await s.stop()
  t.equal(await s.done, 0)
})

t.test('a stop during a roll ends it: the booting worker is killed, the others shut down', async t => {
  for (const at of ['the first booting', 'the first draining', 'the second booting'] as const) {
    const { s, worker, first, fake } = await serving(2)
    const reloading = s.reload('SIGHUP')
    const n1 = await worker()
    if (at !== 'the first booting') {
      n1.ready()
      while (!orders(first[0]!).includes('drain')) await turn()
      first[0]!.onMessage = (message) => { if (message.hotRestart === 'shutdown') first[0]!.exit(0) }
    }
    if (at === 'the second booting') {
      first[0]!.exit(0)
      await worker()
    }
    const stopping = s.stop()
    await t.rejects(reloading, `stopped with ${at}`)
    await stopping
    t.equal(await s.done, 0)
    t.ok(fake.children.every(c => c.exited), 'every worker exited')
    t.equal(fake.children.length, at === 'the second booting' ? 4 : 3, 'no worker started after the stop')
  }
})

t.test('--rolling takes no value; it goes with --workers 2 or more', async t => {
  t.same(splitCommand(['--workers', '2', '--rolling', '--ready-timeout', '9', 'app.js']), { options: ['--workers', '2', '--rolling', '--ready-timeout', '9'], command: ['app.js'] })
  t.same(splitCommand(['--rolling', 'app.js', '--rolling']), { options: ['--rolling'], command: ['app.js', '--rolling'] })
  const r = await cli('run', '--rolling', '--', 'node', 'app.js')
  t.equal(r.code, 2)
  t.match(r.err, /^--rolling goes with --workers <n> of 2 or more/)
})
