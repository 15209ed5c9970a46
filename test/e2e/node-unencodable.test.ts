// Issue 10 item 19: the /node adapter's default logger must not break the drain. atExit hooks
// that reject with a circular object: a reload still ends with the predecessor's exit (and the
// next reload is not refused), a stop still exits 0; every hook runs in every generation.
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import t from 'tap'
import { fixture, reload, startApp } from '../helpers/app'

t.test('atExit hooks that reject with what JSON cannot encode: reloads and the stop complete', async t => {
  const app = await startApp({}, fixture('node-unencodable.ts'))
  t.teardown(() => app.kill())
  const first = app.proc.pid as number
  const exited = once(app.proc, 'exit')
  const { successorPid: second } = await reload(app, first)
  await app.waitFor(l => l.pid === first && l.event === 'exit', 'the predecessor to finish')
  t.same(await exited, [0, null], 'the predecessor exits 0')
  await app.waitFor(l => l.pid === second && l.event === 'predecessor.exited', 'the successor to see it')
  const { successorPid: third } = await reload(app, second)
  t.not(third, second, 'the next reload is not refused')
  await app.waitFor(l => l.pid === third && l.msg === 'hot-restart: the predecessor has exited', 'the third generation to see its predecessor exit')
  await app.stop(third)
  t.same(readFileSync(app.atExitFile, 'utf8').trim().split('\n').map(Number), [first, second, third], 'the last hook ran in every generation')
  t.notOk(existsSync(app.pidFile), 'the stop removed the pid file')
})
