// A generation's link to its supervisor, in-process: when it applies, a supervisor that is gone
// before the generation connects, and the messages both ways over a faked channel.
import { EventEmitter } from 'node:events'
import t from 'tap'
import { connectSupervisor, SUPERVISOR_ENV } from '../../lib/supervised'

const silent = { info () {}, warn () {}, error () {} }
const fakeProcess = (env: Record<string, string>, connected: boolean) => ({ env, ppid: 4242, connected }) as unknown as NodeJS.Process

t.test('no supervisor in the environment: standalone', async t => {
  t.equal(connectSupervisor(false, silent, fakeProcess({}, true)), undefined)
})

t.test('a supervisor that is no longer the parent, or whose channel is closed: the boot fails', async t => {
  const env = { [SUPERVISOR_ENV]: '777' }
  t.throws(() => connectSupervisor(true, silent, fakeProcess(env, true)), { code: 'FST_HOT_RESTART_SUPERVISOR_EXITED', message: /the supervisor \(pid 777\) that started this process has exited/ })
  t.equal(env[SUPERVISOR_ENV], undefined, 'the variable is gone: the app\'s own children do not see it')
  t.throws(() => connectSupervisor(true, silent, fakeProcess({ [SUPERVISOR_ENV]: '4242' }, false)), { code: 'FST_HOT_RESTART_SUPERVISOR_EXITED' })
})

// a connected generation, with the channel faked by an EventEmitter
type Linked = NodeJS.Process & { sent: unknown[], emit (event: string, ...args: unknown[]): boolean }
function linkedProcess (): Linked {
  const proc = new EventEmitter() as unknown as Linked
  Object.assign(proc, {
    env: { [SUPERVISOR_ENV]: '4242' },
    ppid: 4242,
    pid: 5151,
    connected: true,
    sent: [],
    send (message: unknown, _handle: unknown, cb: () => void) { proc.sent.push(message); if (typeof cb === 'function') cb(); return true }
  })
  return proc
}

t.test('the link: ready and boot errors, upgrade answers, the predecessor\'s exit, the supervisor\'s', async t => {
  const proc = linkedProcess()
  const link = connectSupervisor(true, silent, proc)!
  t.equal(link.pid, 4242)
  t.equal(link.predecessor.alive, true)
  link.predecessor.sendReady()
  link.predecessor.sendError(new Error('boom'))
  t.same(proc.sent, [{ hotRestart: 'ready', pid: 5151 }, { hotRestart: 'error', message: 'Error: boom' }])

  const ok = link.upgrade()
  const refused = link.upgrade()
  proc.emit('message', { hotRestart: 'upgraded', id: 1, result: { pid: 6, generation: 3, readyMs: 10 } })
  proc.emit('message', { hotRestart: 'upgraded', id: 2, error: { code: 'FST_HOT_RESTART_UPGRADE_IN_PROGRESS', message: 'busy' } })
  t.same(await ok, { pid: 6, generation: 3, readyMs: 10 })
  await t.rejects(refused, { code: 'FST_HOT_RESTART_UPGRADE_IN_PROGRESS', message: 'busy' })

  t.equal(link.predecessor.pid, 4242, 'the supervisor\'s, until it names the previous generation')
  proc.emit('message', { hotRestart: 'predecessor', pid: 4343 })
  t.equal(link.predecessor.pid, 4343)
  proc.emit('message', { hotRestart: 'predecessor-exited' })
  await link.predecessor.exited
  t.equal(link.predecessor.alive, false)

  const orders: string[] = []
  const remove = link.listen({ drain: (o) => { orders.push(`drain ${o.successorPid} ${String(o.relayCredits)}`) }, shutdown: (why) => { orders.push(why) }, relayed: () => { orders.push('relayed') } })
  proc.emit('message', { hotRestart: 'drain', successorPid: 6, generation: 3, signalToReadyMs: 10, relayCredits: true })
  proc.emit('message', { hotRestart: 'relayed' })
  proc.emit('message', { hotRestart: 'shutdown' })
  const pending = link.upgrade()
  ;(proc as unknown as { connected: boolean }).connected = false
  proc.emit('disconnect')
  await t.rejects(pending, { code: 'FST_HOT_RESTART_SHUTTING_DOWN', message: /the supervisor has exited/ })
  t.same(orders, ['drain 6 true', 'relayed', 'shutdown', 'disconnect'])
  remove()
  t.equal(proc.listenerCount('disconnect'), 0)
})
