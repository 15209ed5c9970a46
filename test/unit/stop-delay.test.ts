// The stop delay's parts, in-process: the option and the flag are validated, the supervisor's
// order is checked, and stopAfterDelay shuts down once however often it is asked (see
// test/e2e/stop-delay.test.ts for the stop delay itself, with real processes).
import Fastify from 'fastify'
import t from 'tap'
import hotRestart from '../../lib/index'
import { readSupervisorMessage } from '../../lib/protocol'
import { readiness } from '../../lib/readiness'
import { run } from '../../lib/run'
import { stopAfterDelay } from '../../lib/stop-delay'
import type { Upgrader } from '../../lib/upgrader'

t.test('options: stopDelay and --stop-delay are validated', async t => {
  for (const bad of [-1, 1.5, '5s', 2 ** 31]) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(hotRestart, { stopDelay: bad as number }) },
      { code: 'FST_HOT_RESTART_INVALID_OPTION', message: /Expected `stopDelay` to be a non-negative integer number of milliseconds/ }, String(bad))
  }
  let err = ''
  const code = await run(['--stop-delay', '5s', '--', 'node', 'app.js'], { err: { write: (s: string) => { err += s } } })
  t.equal(code, 2)
  t.match(err, /--stop-delay expects an integer from 0 to 2147483647, got "5s"/)
  t.match(readSupervisorMessage({ hotRestart: 'shutdown', stopDelay: -1 }), { rejected: /"stopDelay" is not a non-negative integer/ })
  t.same(readSupervisorMessage({ hotRestart: 'shutdown', stopDelay: 0 }), { message: { hotRestart: 'shutdown', stopDelay: 0 } })
})

t.test('stopAfterDelay: a second call gets the first one\'s stop; no delay while booting', async t => {
  const logged: object[] = []
  const log = { info: (obj: object) => { logged.push(obj) } }
  let shutdowns = 0
  const booting = { state: 'booting', stopping: false, sockets: { listeners: [] }, shutdown: async () => { shutdowns++ } }
  const first = stopAfterDelay(booting, 60_000, log)
  t.equal(stopAfterDelay(booting, 0, log), first, 'the same promise')
  await first
  t.equal(shutdowns, 1, 'shut down once, at once')
  t.same([logged, booting.stopping], [[], false], 'no delay: it was not serving')
})

t.test('readiness: 503 "stopping" during the stop delay, then the drain\'s own state', async t => {
  const answer = (state: string, stopping: boolean): unknown => {
    const { status, body } = readiness({ state, stopping, generation: 2 } as unknown as Upgrader)
    return [status, body.state, body.ready]
  }
  t.same(answer('serving', false), [200, 'serving', true])
  t.same(answer('serving', true), [503, 'stopping', false])
  t.same(answer('draining', true), [503, 'draining', false])
})
