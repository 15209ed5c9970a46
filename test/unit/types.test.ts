// Type tests: this file must type-check (`npm run typecheck` covers test/); the
// `@ts-expect-error` lines must stay errors.
import dgram from 'node:dgram'
import net from 'node:net'
import Fastify from 'fastify'
import t from 'tap'
import hotRestart, { hotRestart as named, type HotRestartOptions, type UpgradeResult } from '../../lib/index'

async function typed (): Promise<void> {
  const app = Fastify()
  await app.register(hotRestart, { signal: 'SIGHUP', pidFile: './app.pid', readyTimeout: 1, drainTimeout: 1, atExitTimeout: 1, closeWithGrace: { delay: 500 } })
  await app.register(named, { closeWithGrace: false })
  // @ts-expect-error drainTimeout is a number of ms
  await app.register(hotRestart, { drainTimeout: '5s' })
  // @ts-expect-error not a signal name
  await app.register(hotRestart, { signal: 'USR2' })
  const off: () => void = app.hotRestart.atExit(async () => {})
  off()
  const result: UpgradeResult = await app.hotRestart.upgrade()
  const n: number = result.pid + result.generation + result.readyMs + app.hotRestart.generation
  const draining: boolean = app.hotRestart.draining
  const gone: Promise<void> = app.hotRestart.predecessorExited
  // @ts-expect-error read-only
  app.hotRestart.generation = 2
  void n; void draining; void gone
  const opts: HotRestartOptions = {}
  void opts
  // socket(): a dgram socket resolves with its address, a net.Server with its address or path
  const udp: net.AddressInfo = await app.hotRestart.socket('statsd', dgram.createSocket('udp4'), { port: 8125, address: '127.0.0.1' })
  const tcp: net.AddressInfo | string = await app.hotRestart.socket('echo', net.createServer(), { port: 7007, host: '127.0.0.1' })
  // @ts-expect-error a dgram socket has no net.AddressInfo | string union: it is always bound to an address
  const wrong: string = await app.hotRestart.socket('statsd', dgram.createSocket('udp4'))
  // @ts-expect-error an fd cannot be given
  await app.hotRestart.socket('statsd', dgram.createSocket('udp4'), { fd: 3 })
  void udp; void tcp; void wrong
}

t.test('the types compile (see npm run typecheck)', async t => {
  t.type(typed, 'function')
})
