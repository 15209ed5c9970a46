// Connection hand-over (lib/handover.ts) with real processes: once the successor is ready, the
// predecessor moves each HTTP/1.1 connection to it at a request boundary, and the client's
// next request is answered by the successor on the same TCP connection.
import t from 'tap'
import { predecessorGone, reload, startApp } from '../helpers/app'
import { ask, connect, summary } from '../helpers/raw-http'

t.test('an idle kept-alive connection moves: its next requests are answered by the successor on the same connection, and the predecessor does not wait for idleGrace', async t => {
  const app = await startApp()
  t.teardown(() => app.kill())
  const first = app.proc.pid!
  const c = await connect(app.port)
  t.teardown(() => c.close())
  t.same(await ask(c), { pid: first, close: false }, 'the predecessor answers first')

  const { successorPid } = await reload(app, first)
  const report = await summary(app, first)
  t.equal(report.moved, 1, 'one connection moved')
  t.equal(report.closedIdle, 0, 'none closed')
  t.ok(report.readyToDrainedMs < 5000, `drained in ${report.readyToDrainedMs} ms, less than idleGrace (5000 ms)`)
  for (let i = 0; i < 3; i++) t.same(await ask(c), { pid: successorPid, close: false }, `request ${i + 1} after the move: the successor, no Connection: close`)
  t.notOk(c.closed, 'the connection stayed open')

  await predecessorGone(app, successorPid)
  // closed first, so that the stop does not wait idleGrace for it
  c.close()
  await app.stop(successorPid)
})

t.test('requests in flight and pipelined when the drain starts are answered by the predecessor, without Connection: close; then the connection moves', async t => {
  const app = await startApp()
  t.teardown(() => app.kill())
  const first = app.proc.pid!
  const c = await connect(app.port)
  t.teardown(() => c.close())
  // /hold answers once this process drains, 300 ms later; three of them, pipelined
  c.write(c.get('/hold?ms=300') + c.get('/hold?ms=300') + c.get('/hold?ms=300'))
  await app.waitFor(l => l.pid === first && (l.req as { url?: string } | undefined)?.url === '/hold?ms=300', 'the first request to arrive')
  const { successorPid } = await reload(app, first)
  for (let i = 0; i < 3; i++) {
    const res = await c.next()
    t.equal(JSON.parse(res.body).pid, first, `pipelined request ${i + 1}: answered by the predecessor`)
    t.not(res.headers.connection, 'close', 'without Connection: close')
  }
  t.equal((await summary(app, first)).moved, 1, 'the connection moved once its responses were written')
  t.same(await ask(c), { pid: successorPid, close: false }, 'the next request: the successor, on the same connection')
  t.notOk(c.closed)
  await predecessorGone(app, successorPid)
  // closed first, so that the stop does not wait idleGrace for it
  c.close()
  await app.stop(successorPid)
})

t.test('a request half sent when the drain starts is answered once, by the predecessor; then the connection moves', async t => {
  const app = await startApp()
  t.teardown(() => app.kill())
  const first = app.proc.pid!
  const c = await connect(app.port)
  t.teardown(() => c.close())
  t.same(await ask(c), { pid: first, close: false })
  const request = c.get('/')
  c.write(request.slice(0, 20)) // the request line and part of a header
  const { successorPid } = await reload(app, first)
  c.write(request.slice(20))
  t.same(JSON.parse((await c.next()).body).pid, first, 'the predecessor had read part of it: it answers')
  t.same(await ask(c), { pid: successorPid, close: false }, 'the next request: the successor')
  t.same(await ask(c), { pid: successorPid, close: false }, 'one answer per request')
  t.notOk(c.closed)
  await predecessorGone(app, successorPid)
  // closed first, so that the stop does not wait idleGrace for it
  c.close()
  await app.stop(successorPid)
})
