// The promise under load: 50 keep-alive clients plus clients on new connections, 10 reloads,
// every request's outcome recorded, not one failed.
import t from 'tap'
import { predecessorGone, reload, startApp } from '../helpers/app'
import { startLoad } from '../helpers/load'

const RELOADS = 10

t.test(`${RELOADS} reloads under concurrent load: 0 failed requests`, async t => {
  const app = await startApp({ QUIET: '1' })
  t.teardown(() => app.kill())
  let pid = app.proc.pid!
  const load = startLoad(app.port, { keepAlive: 50, fresh: 4 })
  const pids = [pid]
  const handovers: number[] = []
  for (let i = 0; i < RELOADS; i++) {
    const { successorPid, line } = await reload(app, pid)
    handovers.push(line.signalToReadyMs as number)
    await predecessorGone(app, successorPid)
    pid = successorPid
    pids.push(pid)
  }
  const outcome = await load.stop()
  t.comment(`reloads: ${RELOADS}, requests: ${outcome.ok + outcome.failed}, failed: ${outcome.failed} ${JSON.stringify(outcome.failures)}, signal->ready ms: ${handovers.join(' ')}`)
  t.equal(outcome.failed, 0, 'no request failed')
  t.same(outcome.failures, {})
  t.ok(outcome.ok > 1000, 'the load ran')
  t.equal(new Set(pids).size, RELOADS + 1, 'every reload made a new process')
  for (const p of pids) t.ok((outcome.byPid[p] ?? 0) > 0, `generation pid ${p} served requests`)
  await app.stop(pid)
})
