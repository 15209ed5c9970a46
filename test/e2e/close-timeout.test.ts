// Issue 10 item 8: closing the apps (fastify.close(), its onClose hooks) after the atExit hooks
// is bounded by atExitTimeout: an onClose hook that never settles no longer keeps the
// predecessor alive (which refused every later reload: PREDECESSOR_DRAINING), nor a stop.
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { fixture, reload, startApp } from '../helpers/app'

t.test('an onClose hook that never settles: the predecessor exits after atExitTimeout, and so does a stop', async t => {
  const app = await startApp({ AT_EXIT_TIMEOUT: '1000' }, fixture('stuck-close.ts'))
  t.teardown(() => app.kill())
  const first = app.proc.pid as number
  const exited = once(app.proc, 'exit')
  const { successorPid: second } = await reload(app, first)
  const left = await app.waitFor(l => l.pid === first && l.event === 'app.close-timeout', 'the close to time out')
  t.match(left, { apps: ['fastify'], atExitTimeout: 1000 }, 'saying which app did not close, and the bound')
  await app.waitFor(l => l.pid === first && l.event === 'exit', 'the predecessor to finish')
  t.same(await exited, [0, null], 'the predecessor exits 0')
  await app.waitFor(l => l.pid === second && l.event === 'predecessor.exited', 'the successor to see it')
  const { successorPid: third } = await reload(app, second)
  t.not(third, second, 'the next reload is not refused')
  await app.waitFor(l => l.pid === third && l.event === 'predecessor.exited', 'the third generation to see its predecessor exit')
  await app.stop(third)
  t.ok(app.lines.some(l => l.pid === third && l.event === 'app.close-timeout'), 'the stop was bounded too')
  t.same(readFileSync(app.atExitFile, 'utf8').trim().split('\n').map(Number), [first, second, third], 'the atExit hooks ran before')
})
