// Type tests: this file must type-check (`npm run typecheck` covers test/); the
// `@ts-expect-error` lines must stay errors.
import Fastify from 'fastify'
import t from 'tap'
import hotRestart, { hotRestart as named, type HotRestartOptions, type UpgradeResult } from '../lib/index'

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
}

t.test('the types compile (see npm run typecheck)', async t => {
  t.type(typed, 'function')
})
