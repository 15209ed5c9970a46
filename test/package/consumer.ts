// A TypeScript consumer of the packed package. test/e2e/package.test.ts compiles it under
// moduleResolution node10, node16 (CommonJS), nodenext (ESM) and bundler, then runs the
// output: the types are what the JavaScript gives, whatever the module setup.
import http from 'node:http'
import type net from 'node:net'
import Fastify from 'fastify'
import hotRestart, { hotRestart as named, InvalidOptionError, type HotRestart, type HotRestartOptions, type UpgradeResult } from 'fastify-hot-restart'
import nodeHotRestart, { hotRestart as nodeNamed, jsonLogger, type Logger, type NodeHotRestart, type NodeHotRestartOptions } from 'fastify-hot-restart/node'

/** Compiles only if `value` has type T. */
function expectType<T> (value: T): T { return value }

// never called: each line must stay a type error
export function misuse (): void {
  const app = Fastify()
  // @ts-expect-error drainTimeout is a number of ms
  void app.register(hotRestart, { drainTimeout: '5s' })
  // @ts-expect-error not a signal name
  void app.register(named, { signal: 'USR2' })
  // @ts-expect-error read-only
  app.hotRestart.generation = 2
  // @ts-expect-error a server is required
  nodeHotRestart()
  // @ts-expect-error a logger has info, warn and error
  const logger: Logger = { info () {} }
  void logger
}

async function main (): Promise<void> {
  const options: HotRestartOptions = { closeWithGrace: false, drainTimeout: 1000 }
  const app = Fastify()
  await app.register(hotRestart, options)
  expectType<typeof named>(hotRestart)
  if (named !== hotRestart || nodeNamed !== nodeHotRestart) throw new Error('the named export is not the default one')
  const decorated: HotRestart = app.hotRestart
  expectType<number>(decorated.generation)
  expectType<Promise<UpgradeResult>>(null as unknown as ReturnType<HotRestart['upgrade']>)
  expectType<'FST_HOT_RESTART_INVALID_OPTION'>(new InvalidOptionError('x').code)
  await app.ready()
  await app.close()

  const nodeOptions: NodeHotRestartOptions = { closeWithGrace: false, logger: { info () {}, warn () {}, error () {} } }
  const hr: NodeHotRestart = nodeHotRestart(http.createServer(), nodeOptions)
  expectType<typeof nodeNamed>(nodeHotRestart)
  expectType<Logger>(jsonLogger)
  const address = await hr.listen({ port: 0, host: '127.0.0.1' }) as net.AddressInfo
  expectType<number>(address.port)
  await hr.close()
  process.stdout.write(`typescript consumer: ok ${typeof hotRestart} ${typeof nodeHotRestart}\n`)
}

void main()
