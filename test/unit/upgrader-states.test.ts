// The generation's state machine (lib/upgrader.ts) in-process, in both modes, with fake processes
// (test/helpers/fake-process.ts): each outcome of an upgrade, in milliseconds. The same outcomes
// with real processes are in test/e2e/ (reload, failure, supervisor-signals).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { resolveOptions, type HotRestartOptions } from '../../lib/options'
import { statusPath } from '../../lib/pid-file'
import { SUPERVISOR_ENV } from '../../lib/protocol'
import { Upgrader, type Logger } from '../../lib/upgrader'
import { tempDir } from '../helpers/app'
import { fakeSelf, type FakeSelf } from '../helpers/fake-process'

type Line = { level: string, obj: Record<string, unknown>, msg: string }
function logger (): Logger & { lines: Line[], events: () => unknown[] } {
  const lines: Line[] = []
  const at = (level: string) => (obj: object, msg: string) => { lines.push({ level, obj: obj as Record<string, unknown>, msg }) }
  return { lines, events: () => lines.map(l => l.obj.event), info: at('info'), warn: at('warn'), error: at('error') }
}

/** An upgrader on a fake process, serving one app. */
function serving (t: Test, options: HotRestartOptions = {}, self: FakeSelf = fakeSelf()): { upgrader: Upgrader, self: FakeSelf, log: ReturnType<typeof logger>, closed: string[] } {
  const log = logger()
  const closed: string[] = []
  const upgrader = new Upgrader(resolveOptions({ connectionHandover: false, ...options }), log, self)
  t.teardown(() => upgrader.dispose())
  upgrader.addParticipant({ name: 'app', close: async () => { closed.push('app') } }).listening()
  return { upgrader, self, log, closed }
}

t.test('standalone: the successor is ready: upgrade() resolves, this process drains, runs its hooks and exits 0', async t => {
  const { upgrader, self, log, closed } = serving(t)
  t.equal(upgrader.state, 'serving')
  const ran: string[] = []
  upgrader.atExit(() => { ran.push('atExit') })
  const upgrading = upgrader.upgrade()
  t.equal(upgrader.state, 'upgrading')
  const successor = await self.next()
  t.match(JSON.parse(successor.env.FASTIFY_HOT_RESTART!), { pid: process.pid, generation: 2, sockets: [] }, 'the manifest names this process and the next generation')
  successor.ready()
  t.match(await upgrading, { pid: successor.pid, generation: 2, readyMs: Number })
  t.equal(await self.exited(), 0)
  t.equal(upgrader.state, 'closed')
  t.same(ran, ['atExit'])
  t.same(closed, ['app'])
  t.same(log.events().filter(e => e !== undefined), ['ready', 'upgrade.started', 'upgrade.ready', 'exit'])
  t.match(log.lines.at(-1)!.obj, { hotRestart: { reason: 'upgrade', successorPid: successor.pid, generation: 2, atExitHooks: 1 } })
})

t.test('standalone: a successor that exits before it is ready: FST_HOT_RESTART_SUCCESSOR_EXITED, still serving, the next upgrade runs', async t => {
  const { upgrader, self, log, closed } = serving(t)
  const upgrading = upgrader.upgrade()
  const successor = await self.next()
  successor.emit('message', { hotRestart: 'error', message: 'Error: boom at boot\n    at main' })
  successor.exit(1)
  await t.rejects(upgrading, { code: 'FST_HOT_RESTART_SUCCESSOR_EXITED', message: /exited with code 1 before it was ready: Error: boom at boot$/ })
  t.equal(upgrader.state, 'serving')
  t.match(log.lines.find(l => l.obj.event === 'upgrade.failed'), { level: 'error', obj: { code: 'FST_HOT_RESTART_SUCCESSOR_EXITED', successorPid: successor.pid } })
  const again = upgrader.upgrade()
  const second = await self.next()
  t.not(second.pid, successor.pid)
  second.exit(null, 'SIGKILL')
  await t.rejects(again, { message: /was killed by SIGKILL/ })
  t.same(self.exits, [])
  t.same(closed, [])
})

t.test('standalone: when upgrade.failed is logged, the status file already records the failure (what `reload` reads)', async t => {
  const pidFile = join(tempDir(), 'app.pid')
  const { upgrader, self, log } = serving(t, { pidFile })
  const recorded: unknown[] = []
  const error = log.error
  log.error = (obj, msg) => {
    if ((obj as { event?: string }).event === 'upgrade.failed') recorded.push(JSON.parse(readFileSync(statusPath(pidFile), 'utf8')).attempts['1'])
    error(obj, msg)
  }
  const upgrading = upgrader.upgrade()
  const successor = await self.next()
  successor.exit(1)
  await t.rejects(upgrading, { code: 'FST_HOT_RESTART_SUCCESSOR_EXITED' })
  t.match(recorded, [{ state: 'failed', code: 'FST_HOT_RESTART_SUCCESSOR_EXITED', successorPid: successor.pid }])
})

t.test('standalone: a successor not ready within readyTimeout is killed: FST_HOT_RESTART_SUCCESSOR_TIMEOUT', async t => {
  const { upgrader, self } = serving(t, { readyTimeout: 20 })
  const upgrading = upgrader.upgrade()
  const successor = await self.next()
  await t.rejects(upgrading, { code: 'FST_HOT_RESTART_SUCCESSOR_TIMEOUT', message: /not ready within 20 ms and was killed/ })
  t.same(successor.signals, ['SIGTERM'])
  t.equal(upgrader.state, 'serving')
})

t.test('standalone: a shutdown while the successor boots kills it; the upgrade fails, nothing exits', async t => {
  const { upgrader, self, log, closed } = serving(t)
  const upgrading = upgrader.upgrade()
  const successor = await self.next()
  await upgrader.shutdown()
  t.same(successor.signals, ['SIGTERM'])
  await t.rejects(upgrading, { code: 'FST_HOT_RESTART_SUCCESSOR_EXITED', message: /was killed by SIGTERM/ })
  t.equal(upgrader.state, 'closed', 'not back to serving')
  t.same(closed, ['app'])
  t.same(self.exits, [], 'the caller of shutdown() exits')
  t.match(log.lines.find(l => l.obj.event === 'upgrade.aborted'), { obj: { successorPid: successor.pid } })
  t.match(log.lines.at(-1)!.obj, { event: 'exit', hotRestart: { reason: 'shutdown' } })
})

t.test('standalone: a storm of reload signals runs one upgrade; the others are refused as in progress', async t => {
  const { upgrader, self, log } = serving(t)
  for (let i = 0; i < 50; i++) self.signal('SIGUSR2')
  self.signal('SIGHUP') // not the reload signal
  t.equal(upgrader.state, 'upgrading')
  const successor = await self.next()
  const refused = log.lines.filter(l => l.obj.event === 'upgrade.refused')
  t.equal(refused.length, 49)
  t.ok(refused.every(l => l.obj.code === 'FST_HOT_RESTART_UPGRADE_IN_PROGRESS'))
  t.equal(self.children.length, 1, 'one successor spawned')
  await t.rejects(upgrader.upgrade(), { code: 'FST_HOT_RESTART_UPGRADE_IN_PROGRESS' }, 'upgrade() too: one upgrade at a time')
  successor.ready()
  t.equal(await self.exited(), 0)
  self.signal('SIGUSR2')
  t.equal(self.children.length, 1, 'the signal handler is gone once draining')
})

t.test('standalone: before ready, and once draining: refused with their own codes', async t => {
  const self = fakeSelf()
  const upgrader = new Upgrader(resolveOptions({}), logger(), self)
  t.teardown(() => upgrader.dispose())
  await t.rejects(upgrader.upgrade(), { code: 'FST_HOT_RESTART_NOT_READY' })
  upgrader.addParticipant({ name: 'app', close: async () => {} }).listening()
  const shutdown = upgrader.shutdown()
  await t.rejects(upgrader.upgrade(), { code: 'FST_HOT_RESTART_SHUTTING_DOWN' })
  await shutdown
  t.equal(self.children.length, 0)
})

/** A fake supervisor's side of the channel: the generation's env and parent. */
const supervised = (): FakeSelf => fakeSelf({ env: { [SUPERVISOR_ENV]: '4242' }, parent: 4242 })

t.test('supervised: upgrade() asks the supervisor, which orders the drain; one request at a time', async t => {
  const { upgrader, self, log } = serving(t, { pidFile: '/nonexistent/ignored.pid' }, supervised())
  t.match(log.lines.find(l => l.obj.event === 'supervised'), { obj: { supervisorPid: 4242, ignoredPidFile: '/nonexistent/ignored.pid' } })
  t.same(self.sentUp.map(m => m.hotRestart), ['ready'])
  const upgrading = upgrader.upgrade()
  t.equal(upgrader.state, 'upgrading')
  await t.rejects(upgrader.upgrade(), { code: 'FST_HOT_RESTART_UPGRADE_IN_PROGRESS' }, 'refused here, not asked')
  const asked = self.sentUp.filter(m => m.hotRestart === 'upgrade')
  t.equal(asked.length, 1)
  // the supervisor orders the drain, then answers
  self.receive({ hotRestart: 'drain', successorPid: 77, generation: 2, signalToReadyMs: 5 })
  self.receive({ hotRestart: 'upgraded', id: asked[0]!.id, result: { pid: 77, generation: 2, readyMs: 5 } })
  t.same(await upgrading, { pid: 77, generation: 2, readyMs: 5 })
  t.equal(await self.exited(), 0)
  t.match(log.lines.at(-1)!.obj, { event: 'exit', hotRestart: { reason: 'upgrade', successorPid: 77, generation: 2 } })
  t.equal(self.children.length, 0, 'nothing spawned here')
})

t.test('supervised: a refused request leaves it serving; a supervisor that dies shuts it down (exit 0)', async t => {
  const { upgrader, self, log, closed } = serving(t, {}, supervised())
  const upgrading = upgrader.upgrade()
  const id = self.sentUp.find(m => m.hotRestart === 'upgrade')!.id
  self.receive({ hotRestart: 'upgraded', id, error: { code: 'FST_HOT_RESTART_CRASH_RESTART', message: 'restarting' } })
  await t.rejects(upgrading, { code: 'FST_HOT_RESTART_CRASH_RESTART' })
  t.equal(upgrader.state, 'serving')
  self.disconnect()
  t.equal(await self.exited(), 0)
  t.same(closed, ['app'])
  t.match(log.lines.find(l => l.obj.event === 'shutdown.started'), { obj: { why: 'disconnect' }, msg: /the supervisor has exited/ })
  t.match(log.lines.at(-1)!.obj, { event: 'exit', hotRestart: { reason: 'shutdown' } })
})

t.test('supervised: the supervisor asks for a shutdown', async t => {
  const { self, log } = serving(t, {}, supervised())
  self.receive({ hotRestart: 'shutdown' })
  t.equal(await self.exited(), 0)
  t.match(log.lines.find(l => l.obj.event === 'shutdown.started'), { obj: { why: 'shutdown' } })
})
