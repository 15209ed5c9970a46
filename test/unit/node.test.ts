// The node:http adapter in-process: validation, the handle it returns, its default logger.
import dgram from 'node:dgram'
import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import t from 'tap'
import nodeDefault, { hotRestart, jsonLogger } from '../../lib/node'

t.test('bad arguments throw the coded error', async t => {
  t.equal(nodeDefault, hotRestart)
  t.throws(() => hotRestart(null as never), { code: 'FST_HOT_RESTART_INVALID_OPTION', message: /Expected `server` to be a node:http or node:net server, got null/ })
  t.throws(() => hotRestart({} as never), { code: 'FST_HOT_RESTART_INVALID_OPTION' })
  t.throws(() => hotRestart(http.createServer(), { logger: { info () {} } as never }), { code: 'FST_HOT_RESTART_INVALID_OPTION', message: /Expected `logger` to have info, warn and error methods/ })
  t.throws(() => hotRestart(http.createServer(), { readyTimeout: -1 }), { code: 'FST_HOT_RESTART_INVALID_OPTION', message: /`readyTimeout`/ })
})

t.test('listen, the handle, close', async t => {
  const lines: Array<[string, string]> = []
  const logger = {
    info: (_o: object, msg: string) => { lines.push(['info', msg]) },
    warn: (_o: object, msg: string) => { lines.push(['warn', msg]) },
    error: (_o: object, msg: string) => { lines.push(['error', msg]) }
  }
  const server = http.createServer((_req, res) => { res.end('ok') })
  const hr = hotRestart(server, { logger, closeWithGrace: false })
  t.equal(hr.generation, 1)
  t.equal(hr.draining, false)
  await hr.predecessorExited
  t.type(hr.atExit(() => {}), 'function')
  let drained = false
  hr.onDrain(() => { drained = true })
  await t.rejects(hr.upgrade(), { code: 'FST_HOT_RESTART_NOT_READY' })

  const taken = net.createServer()
  await once(taken.listen(0, '127.0.0.1'), 'listening')
  t.teardown(() => taken.close())
  await t.rejects(hr.listen({ port: (taken.address() as net.AddressInfo).port, host: '127.0.0.1' }), { code: 'EADDRINUSE' }, 'a failed listen rejects')

  const address = await hr.listen({ port: 0, host: '127.0.0.1' }) as net.AddressInfo
  t.equal(address.address, '127.0.0.1')
  const body = await new Promise<string>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: address.port, path: '/' }, res => { let b = ''; res.on('data', c => { b += c }); res.on('end', () => resolve(b)) }).on('error', reject)
  })
  t.equal(body, 'ok')
  await hr.close()
  t.equal(drained, true, 'onDrain hooks ran')
  t.equal(hr.draining, true)
  t.equal(server.listening, false)
  t.ok(lines.some(([, msg]) => msg === 'hot-restart: shut down'))
})

t.test('a second server in the process shares the upgrader; the options it cannot apply are reported', async t => {
  const warnings: Array<[object, string]> = []
  const logger = { info () {}, warn: (o: object, msg: string) => { warnings.push([o, msg]) }, error () {} }
  const first = hotRestart(http.createServer(), { logger, closeWithGrace: false })
  const second = hotRestart(http.createServer(), { logger, closeWithGrace: false, drainTimeout: 5000, readyTimeout: 60000 })
  t.same(warnings, [[{ ignored: ['drainTimeout'] }, 'hot-restart: this process already has an upgrader; the first app\'s options apply']])
  await first.close()
  t.equal(second.draining, true, 'one upgrader for both')
})

t.test('socket(): named sockets through the adapter; a shutdown stops them after the drain', async t => {
  const logger = { info () {}, warn () {}, error () {} }
  const hr = hotRestart(http.createServer(), { logger, closeWithGrace: false, drainTimeout: 200 })
  const udp = dgram.createSocket('udp4')
  const udpClosed = once(udp, 'close')
  const udpAddress = await hr.socket('udp', udp, { port: 0, address: '127.0.0.1' })
  t.equal(udpAddress.address, '127.0.0.1')
  const tcp = net.createServer(socket => { socket.on('error', () => {}) })
  const tcpAddress = await hr.socket('tcp', tcp, { port: 0, host: '127.0.0.1' }) as net.AddressInfo
  // a client that never hangs up: the drain waits for it until drainTimeout, then closes it
  const client = net.connect(tcpAddress.port, '127.0.0.1')
  client.on('error', () => {})
  await once(tcp, 'connection')
  await hr.listen({ port: 0, host: '127.0.0.1' })
  await hr.close()
  await udpClosed
  t.equal(tcp.listening, false, 'the TCP server is closed')
  t.ok(client.destroyed || (await once(client, 'close')), 'its connection was closed at the deadline')
})

t.test('the default logger writes JSON lines', async t => {
  const out: string[] = []
  const write = (chunk: string): boolean => { out.push(chunk); return true }
  const stdout = process.stdout.write
  const stderr = process.stderr.write
  process.stdout.write = write as never
  process.stderr.write = write as never
  try {
    jsonLogger.info({ a: 1 }, 'hello')
    jsonLogger.warn({}, 'careful')
    jsonLogger.error({ err: Object.assign(new Error('bad'), { code: 'X' }) }, 'failed')
    jsonLogger.error({ err: 'text' }, 'failed too')
  } finally {
    process.stdout.write = stdout
    process.stderr.write = stderr
  }
  const lines = out.map(l => JSON.parse(l))
  t.match(lines, [
    { level: 30, pid: process.pid, a: 1, msg: 'hello' },
    { level: 40, msg: 'careful' },
    { level: 50, err: { type: 'Error', message: 'bad', code: 'X' }, msg: 'failed' },
    { level: 50, err: 'text', msg: 'failed too' }
  ])
})
