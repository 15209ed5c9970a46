// The Fastify plugin in-process: registration, decorators, options, disposal.
import dgram from 'node:dgram'
import { EventEmitter, once } from 'node:events'
import net from 'node:net'
import Fastify from 'fastify'
import t from 'tap'
import { connectPredecessor, reportBootErrors } from '../../lib/predecessor'

import * as lib from '../../lib/index'

// the package's entry point (dist/entry/index.js) gives this as the module: test/e2e/package.test.ts
const required = lib.hotRestart

t.test('the module exports the plugin, also as default, with the error constructors', async t => {
  t.type(required, 'function')
  t.equal(lib.default, required)
  t.type(lib.InvalidOptionError, 'function')
  t.equal(new lib.SuccessorTimeoutError(1, 2).code, 'FST_HOT_RESTART_SUCCESSOR_TIMEOUT')
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
  const warnings: Array<[unknown, string]> = []
  second.log.warn = ((obj: unknown, msg: string) => { warnings.push([obj, msg]) }) as never
  await second.register(required, { signal: 'SIGHUP', drainTimeout: 1000 })
  t.match(warnings, [[{ ignored: ['signal'] }, /already has an upgrader; the first app's options apply/]], 'only the options that differ')
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
  await t.rejects(async () => { await app.register(required, { drainTimeout: '5s' as never }) }, { code: 'FST_HOT_RESTART_INVALID_OPTION', message: /Expected `drainTimeout` to be a positive integer number of milliseconds.*got `"5s"` \(string\)/ })
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

t.test('socket(): arguments checked with coded errors, one name once, refused once the process is ready', async t => {
  const app = Fastify()
  await app.register(required, { closeWithGrace: false })
  const bad: Array<[unknown[], RegExp]> = [
    [['', net.createServer()], /Expected the socket name to be a non-empty string, got `""` \(string\)/],
    [[7, net.createServer()], /Expected the socket name to be a non-empty string, got `7` \(number\)/],
    [['x', {}], /Expected socket "x" to be a net.Server or a dgram.Socket, got \{\} \(object\)/],
    [['x', net.createServer(), 5], /Expected the options of socket "x" to be an object, got `5` \(number\)/],
    [['x', net.createServer(), null], /Expected the options of socket "x" to be an object, got null/],
    [['x', net.createServer(), [1]], /Expected the options of socket "x" to be an object, got \[1\] \(array\)/],
    [['x', dgram.createSocket('udp4'), { port: 70000 }], /Expected the port of socket "x" to be an integer from 0 to 65535, got `70000` \(number\)/],
    [['x', dgram.createSocket('udp4'), { port: '80' }], /Expected the port of socket "x" to be an integer from 0 to 65535, got `"80"` \(string\)/],
    [['x', net.createServer(), { port: 1.5 }], /to be an integer from 0 to 65535/],
    [['x', net.createServer(), { port: -1 }], /to be an integer from 0 to 65535/],
    [['x', net.createServer(), { fd: 3 }], /Socket "x": `fd` cannot be given; the socket is bound here, or inherited/],
    [['x', net.createServer(), { handle: {} }], /`handle` cannot be given/]
  ]
  for (const [args, message] of bad) {
    await t.rejects((app.hotRestart.socket as (...a: unknown[]) => Promise<unknown>)(...args), { code: 'FST_HOT_RESTART_INVALID_OPTION', message }, String(message))
  }

  // a failed listen rejects with the server's own error; the name is free again
  const taken = net.createServer()
  await once(taken.listen(0, '127.0.0.1'), 'listening')
  t.teardown(() => taken.close())
  await t.rejects(app.hotRestart.socket('tcp', net.createServer(), { port: (taken.address() as net.AddressInfo).port, host: '127.0.0.1' }), { code: 'EADDRINUSE' })
  const tcp = net.createServer()
  t.teardown(() => tcp.close())
  t.match(await app.hotRestart.socket('tcp', tcp, { port: 0, host: '127.0.0.1' }), { address: '127.0.0.1', port: Number })
  await t.rejects(app.hotRestart.socket('tcp', net.createServer()), { code: 'FST_HOT_RESTART_INVALID_OPTION', message: /A socket named "tcp" is already open in this process/ })
  const udp = dgram.createSocket('udp4')
  t.teardown(() => { try { udp.close() } catch {} })
  t.match(await app.hotRestart.socket('udp', udp), { address: '0.0.0.0', port: Number }, 'no options: any port, any address')

  await app.listen({ port: 0, host: '127.0.0.1' })
  await new Promise(resolve => setImmediate(resolve)) // the process is ready after the onListen hooks
  await t.rejects(app.hotRestart.socket('late', dgram.createSocket('udp4')), {
    code: 'FST_HOT_RESTART_SOCKET_TOO_LATE',
    message: 'fastify-hot-restart: open the socket "late" before the app listens (this process is serving already)'
  })
  const hooked = net.Server.prototype.listen
  await app.close()
  t.not(net.Server.prototype.listen, hooked, 'the upgrader is disposed of with the last app: named sockets do not keep it')
})
