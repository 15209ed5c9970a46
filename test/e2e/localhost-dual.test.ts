// An app that listens on `localhost` has two servers in Fastify (127.0.0.1 and ::1: see
// test/fixtures/localhost-app.ts), and Fastify closes the secondary one with http.Server#close
// as soon as the main one emits 'close', which it does at once when the drain stops it accepting
// and it has no connection. Those closes must not cut the secondary server's connections in the
// middle of the drain: every kept-alive client's next request is answered, on the same connection.
import t, { type Test } from 'tap'
import { fixture, predecessorGone, reload, startApp, type RunningApp } from '../helpers/app'
import { ask, connect, summary, type RawConnection } from '../helpers/raw-http'

const app = fixture('localhost-app.ts')
const IDLE = 8

/** Connections to `host`, each answered once by `pid` (so kept alive, and idle). */
async function idle (t: Test, port: number, host: string, pid: number, n = IDLE): Promise<RawConnection[]> {
  const list: RawConnection[] = []
  for (let i = 0; i < n; i++) {
    const c = await connect(port, host)
    t.teardown(() => c.close())
    t.same(await ask(c), { pid, close: false })
    list.push(c)
  }
  return list
}

/** A connection to `host` with a request in flight (/hold: answered once the app drains, 300 ms later). */
async function holding (t: Test, running: RunningApp, host: string): Promise<RawConnection> {
  const c = await connect(running.port, host)
  t.teardown(() => c.close())
  const from = running.lines.length
  c.write(c.get('/hold?ms=300'))
  await running.waitFor(l => (l.req as { url?: string } | undefined)?.url === '/hold?ms=300', `a request in flight on ${host}`, from)
  return c
}

interface Outcome { pids: number[], closes: number, failed: string[] }

/** Who answered each of `asks`, how many said `Connection: close`, and every failure (a reset, a close before the answer). */
async function collect (asks: Array<Promise<{ pid: number, close: boolean }>>): Promise<Outcome> {
  const outcomes = await Promise.all(asks.map(a => a.catch((err: Error) => err.message)))
  const answers = outcomes.filter(o => typeof o !== 'string')
  return { pids: answers.map(a => a.pid), closes: answers.filter(a => a.close).length, failed: outcomes.filter(o => typeof o === 'string') }
}

/** The next request on each connection. */
const next = (conns: RawConnection[]): Promise<Outcome> => collect(conns.map(c => ask(c)))

/** The response to the request in flight on each connection. */
const held = (conns: RawConnection[]): Promise<Outcome> => collect(conns.map(c => c.next().then(res => ({
  pid: (JSON.parse(res.body) as { pid: number }).pid, close: res.headers.connection === 'close'
}))))

t.test('the app listens on 127.0.0.1 and ::1 with one port', async t => {
  const running = await startApp({}, app)
  t.teardown(() => running.kill())
  const line = await running.waitFor(l => l.msg === 'localhost: listening')
  t.same((line.addresses as Array<{ address: string }>).map(a => a.address).sort(), ['127.0.0.1', '::1'])
  await running.stop(running.proc.pid!)
})

t.test('hand-over: idle and in-flight connections on 127.0.0.1 and on ::1 all move; their next requests are answered by the successor', async t => {
  const running = await startApp({}, app)
  t.teardown(() => running.kill())
  const first = running.proc.pid!
  const idleConns = [...await idle(t, running.port, '127.0.0.1', first), ...await idle(t, running.port, '::1', first)]
  const busy = [await holding(t, running, '127.0.0.1'), await holding(t, running, '::1')]

  const { successorPid } = await reload(running, first)
  t.same(await held(busy), { pids: [first, first], closes: 0, failed: [] }, 'the requests in flight: answered by the predecessor')
  const report = await summary(running, first)
  t.equal(report.moved, idleConns.length + busy.length, 'every connection moved')
  const after = await next([...idleConns, ...busy])
  t.same(after.failed, [], 'no next request failed')
  t.same(after.pids, Array(idleConns.length + busy.length).fill(successorPid), 'each answered by the successor, on the same connection')
  t.equal(after.closes, 0, 'none with Connection: close')

  // closed by their clients: the successor's shutdown does not wait idleGrace for them
  for (const c of [...idleConns, ...busy]) c.close()
  await predecessorGone(running, successorPid)
  await running.stop(successorPid)
})

for (const [first, other, env] of [['127.0.0.1', '::1', {}], ['::1', '127.0.0.1', { LOCALHOST_FIRST: '6' }]] as const) {
  t.test(`hand-over, no connection on the main server (${first}): the connections on ${other} all move`, async t => {
    const running = await startApp(env, app)
    t.teardown(() => running.kill())
    const pid = running.proc.pid!
    const idleConns = await idle(t, running.port, other, pid)
    const busy = await holding(t, running, other)

    const { successorPid } = await reload(running, pid)
    t.same(await held([busy]), { pids: [pid], closes: 0, failed: [] }, 'the request in flight: answered by the predecessor')
    const report = await summary(running, pid)
    t.equal(report.moved, IDLE + 1, 'every connection moved')
    const after = await next([...idleConns, busy])
    t.same(after.failed, [], 'no next request failed')
    t.same(after.pids, Array(IDLE + 1).fill(successorPid), 'each answered by the successor, on the same connection')

    for (const c of [...idleConns, busy]) c.close()
    await predecessorGone(running, successorPid)
    await running.stop(successorPid)
  })
}

t.test('connectionHandover: false, no connection on 127.0.0.1: the idle connections on ::1 stay open for idleGrace; their next requests are answered', async t => {
  const running = await startApp({ HANDOVER: '0' }, app)
  t.teardown(() => running.kill())
  const first = running.proc.pid!
  const idleConns = await idle(t, running.port, '::1', first)

  const { successorPid } = await reload(running, first)
  const after = await next(idleConns)
  t.same(after.failed, [], 'no next request failed')
  t.same(after.pids, Array(IDLE).fill(first), 'each answered by the predecessor (its idleGrace has not passed)')
  // closed by their clients: the predecessor does not wait idleGrace for them
  for (const c of idleConns) c.close()
  t.equal((await summary(running, first)).forced, 0)

  await predecessorGone(running, successorPid)
  await running.stop(successorPid)
})

t.test('forceCloseConnections: true, no connection on 127.0.0.1: a request in flight on ::1 is answered', async t => {
  const running = await startApp({ FORCE_CLOSE: '1' }, app)
  t.teardown(() => running.kill())
  const first = running.proc.pid!
  const busy = await holding(t, running, '::1')

  const { successorPid } = await reload(running, first)
  t.same(await held([busy]), { pids: [first], closes: 0, failed: [] }, 'answered by the predecessor')
  t.same(await ask(busy), { pid: successorPid, close: false }, 'then the connection moved')

  busy.close()
  await predecessorGone(running, successorPid)
  await running.stop(successorPid)
})
