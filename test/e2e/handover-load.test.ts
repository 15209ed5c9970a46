// Connection hand-over under load: busy and idle kept-alive connections across reloads, every
// request counted, no connection closed or opened again (see test/e2e/handover.test.ts).
import t from 'tap'
import { fixture, predecessorGone, reload, startApp } from '../helpers/app'
import { ask, connect, summary } from '../helpers/raw-http'

for (const [name, file] of [['Fastify', 'app.ts'], ['Express (node:http adapter)', 'express-app.ts']]) {
  t.test(`${name}, under load: 10 connections in closed loops and 100 idle ones across 2 reloads; every request answered once, no connection closed`, async t => {
    const app = await startApp({ QUIET: '1' }, fixture(file!))
    t.teardown(() => app.kill())
    const idle = await Promise.all(Array.from({ length: 100 }, () => connect(app.port)))
    const busy = await Promise.all(Array.from({ length: 10 }, () => connect(app.port)))
    t.teardown(() => { for (const c of [...idle, ...busy]) c.close() })
    for (const c of idle) await ask(c)
    let running = true
    let sent = 0
    let answered = 0
    const pidsSeen = busy.map(() => new Set<number>())
    const loops = busy.map(async (c, i) => {
      while (running) {
        sent++
        const { pid } = await ask(c)
        answered++
        pidsSeen[i]!.add(pid)
      }
    })
    let pid = app.proc.pid!
    const generations = [pid]
    for (let i = 0; i < 2; i++) {
      const { successorPid } = await reload(app, pid)
      const report = await summary(app, pid)
      t.ok(report.moved >= 100, `reload ${i + 1}: ${report.moved} connections moved`)
      t.equal(report.closedIdle + report.forced, 0, 'none closed')
      await predecessorGone(app, successorPid)
      pid = successorPid
      generations.push(pid)
    }
    running = false
    await Promise.all(loops)
    t.equal(answered, sent, `${answered} of ${sent} requests answered`)
    t.ok(pidsSeen.every(seen => seen.size >= 2), 'every busy connection was served by more than one generation')
    const later = await Promise.all(idle.map(c => ask(c)))
    t.ok(later.every(r => r.pid === pid && !r.close), 'every idle connection of generation 1 is served by generation 3, kept alive')
    t.notOk([...idle, ...busy].some(c => c.closed), 'no connection was closed')
    t.comment(`generations ${generations.join(' -> ')}; ${answered} requests on 10 busy connections, 100 idle ones moved twice`)
    // closed first, so that the stop does not wait idleGrace for them
    for (const c of [...idle, ...busy]) c.close()
    await app.stop(pid)
  })
}
