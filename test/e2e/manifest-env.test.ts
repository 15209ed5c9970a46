// Issue 10 item 13: the manifest variable is read once and removed, so that a process the app
// starts (a job, a worker script) neither sees it nor takes itself for a successor.
import t from 'tap'
import { fixture, reload, startApp } from '../helpers/app'
import { request } from '../helpers/http'

t.test('after a reload, a process the successor starts has no FASTIFY_HOT_RESTART in its environment', async t => {
  const app = await startApp({}, fixture('late-load.ts'))
  t.teardown(() => app.kill())
  const first = app.proc.pid as number
  const { successorPid } = await reload(app, first)
  await app.waitFor(l => l.pid === successorPid && l.event === 'ready', 'the successor to be ready')
  const res = await request(app.port, '/child-env')
  t.equal(res.status, 200)
  t.same(res.body, { manifest: null, supervisor: null }, 'nothing of the protocol reaches the child')
  await app.stop(successorPid)
})
