// The Fastify plugin in-process: registration, decorators, options, disposal.
import { EventEmitter } from 'node:events'
import net from 'node:net'
import Fastify from 'fastify'
import t from 'tap'
import { connectPredecessor, reportBootErrors } from '../lib/predecessor'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const required = require('../lib/index')

t.test('require() gives the plugin, also as .default and .hotRestart, with the error constructors', async t => {
  t.type(required, 'function')
  t.equal(required.default, required)
  t.equal(required.hotRestart, required)
  t.type(required.InvalidOptionError, 'function')
  t.equal(new required.SuccessorTimeoutError(1, 2).code, 'FST_HOT_RESTART_SUCCESSOR_TIMEOUT')
})

t.test('decorators, hooks and disposal', async t => {
  const listen = net.Server.prototype.listen
  const signals = process.listenerCount('SIGUSR2')
  const terms = process.listenerCount('SIGTERM')
  const app = Fastify()
  await app.register(required, { drainTimeout: 1000 })
  t.equal(app.hotRestart.generation, 1)
  t.equal(app.hotRestart.draining, false)
  await app.hotRestart.predecessorExited
  const off = app.hotRestart.atExit(() => {})
  t.type(off, 'function')
  off()
  t.type(app.hotRestart.onDrain(() => {}), 'function')
  t.throws(() => app.hotRestart.atExit('no' as never), { code: 'FST_HOT_RESTART_INVALID_OPTION', message: /Expected the atExit hook to be a function/ })
  t.throws(() => app.hotRestart.onDrain(null as never), { code: 'FST_HOT_RESTART_INVALID_OPTION', message: /Expected the onDrain hook to be a function, got null/ })
  await t.rejects(app.hotRestart.upgrade(), { code: 'FST_HOT_RESTART_NOT_READY' }, 'not ready before listen')
  t.equal(process.listenerCount('SIGUSR2'), signals + 1, 'the reload signal is handled')
  t.equal(process.listenerCount('SIGTERM'), terms + 1, 'close-with-grace handles SIGTERM')
  t.not(net.Server.prototype.listen, listen, 'the listen hook is installed')

  // a second app in the process shares the upgrader; different options are reported
  const second = Fastify()
  const warnings: string[] = []
  second.log.warn = ((_obj: unknown, msg: string) => { warnings.push(msg) }) as never
  await second.register(required, { signal: 'SIGHUP' })
  t.match(warnings, [/already has an upgrader; the first app's options apply/])
  t.equal(process.listenerCount('SIGUSR2'), signals + 1, 'one handler for both apps')

  await app.listen({ port: 0, host: '127.0.0.1' })
  await second.listen({ port: 0, host: '127.0.0.1' })
  const res = await app.inject('/nope')
  t.equal(res.statusCode, 404, 'plain HTTP behaviour is untouched')
  t.not(res.headers.connection, 'close', 'no Connection: close in steady state')

  await second.close()
  t.equal(process.listenerCount('SIGUSR2'), signals + 1, 'still handled while an app remains')
  await app.close()
  t.equal(process.listenerCount('SIGUSR2'), signals, 'the last close removes the signal handler')
  t.equal(process.listenerCount('SIGTERM'), terms, 'and close-with-grace')
  t.equal(net.Server.prototype.listen, listen, 'and the listen hook')
})

t.test('closeWithGrace: false leaves shutdown to the app', async t => {
  const terms = process.listenerCount('SIGTERM')
  const app = Fastify()
  await app.register(required, { closeWithGrace: false })
  t.equal(process.listenerCount('SIGTERM'), terms)
  await app.close()
})

t.test('wrong options fail the registration with the coded error', async t => {
  const app = Fastify()
  await t.rejects(async () => { await app.register(required, { drainTimeout: '5s' }) }, { code: 'FST_HOT_RESTART_INVALID_OPTION', message: /Expected `drainTimeout` to be a positive integer number of milliseconds.*got `"5s"` \(string\)/ })
  const other = Fastify()
  await t.rejects(async () => { await other.register(required, { pidFile: '/nonexistent/dir/app.pid' }) }, { code: 'FST_HOT_RESTART_PID_FILE', message: /the folder \/nonexistent\/dir does not exist/ })
  // a folder nobody may write in, root included (Linux)
  const readOnly = Fastify()
  await t.rejects(async () => { await readOnly.register(required, { pidFile: '/proc/sys/app.pid' }) }, { code: 'FST_HOT_RESTART_PID_FILE', message: /the folder \/proc\/sys is not writable/ })
})

t.test('the predecessor channel: sends only while connected, never throws', async t => {
  const proc = Object.assign(new EventEmitter(), {
    pid: 42,
    connected: true,
    channel: { unref () {} },
    sent: [] as unknown[],
    send (m: unknown) { this.sent.push(m); if (this.sent.length > 1) throw new Error('EPIPE') }
  })
  const p = connectPredecessor(7, proc as unknown as NodeJS.Process)
  t.equal(p.pid, 7)
  t.equal(p.alive, true)
  p.sendReady()
  p.sendError('plain')
  t.same(proc.sent, [{ hotRestart: 'ready', pid: 42 }, { hotRestart: 'error', message: 'plain' }])
  proc.emit('disconnect')
  await p.exited
  t.equal(p.alive, false)
  p.sendError(new TypeError('late'))
  t.equal(proc.sent.length, 2, 'nothing is sent once the predecessor is gone')

  const noChannel = connectPredecessor(7, Object.assign(new EventEmitter(), { connected: false }) as unknown as NodeJS.Process)
  t.equal(noChannel.alive, false)
  noChannel.sendReady()

  const reporting = Object.assign(new EventEmitter(), { env: { FASTIFY_HOT_RESTART: '{}' }, connected: true, ppid: 9, pid: 10, sent: [] as unknown[], send (m: unknown) { this.sent.push(m) } })
  const stop = reportBootErrors(reporting as unknown as NodeJS.Process)
  reporting.emit('uncaughtExceptionMonitor', new RangeError('at boot'))
  reporting.emit('uncaughtExceptionMonitor', new RangeError('second'))
  t.same(reporting.sent, [{ hotRestart: 'error', message: 'RangeError: at boot' }], 'the first error only')
  stop()
  const coded = Object.assign(new EventEmitter(), { connected: true, channel: null, pid: 11, sent: [] as unknown[], send (m: unknown) { this.sent.push(m) } })
  connectPredecessor(7, coded as unknown as NodeJS.Process).sendError(Object.assign(new Error('bad fd 3'), { code: 'FST_X' }))
  t.same(coded.sent, [{ hotRestart: 'error', message: 'Error [FST_X]: bad fd 3' }], 'a coded error is reported with its code')
  t.equal(reportBootErrors(Object.assign(new EventEmitter(), { env: {}, connected: false }) as unknown as NodeJS.Process)(), undefined)
})
