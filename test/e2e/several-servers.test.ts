// Two Fastify instances in one process share one upgrader: one signal reloads the process
// once, both servers are handed over and drained, 0 failed requests on either port.
import { readFileSync } from 'node:fs'
import type net from 'node:net'
import t from 'tap'
import { fixture, predecessorGone, reload, startApp } from '../helpers/app'
import { request } from '../helpers/http'
import { PACE, startLoad } from '../helpers/load'
import { exitLine } from '../helpers/log-lines'

const RELOADS = 2

t.test(`two Fastify apps in one process: ${RELOADS} reloads under load on both ports, 0 failed`, async t => {
  const app = await startApp({ QUIET: '1' }, fixture('two-apps.ts'))
  t.teardown(() => app.kill())
  const first = await app.waitFor(l => l.msg === 'two apps listening', 'both apps to listen')
  const publicPort = (first.public as net.AddressInfo).port
  const metricsPort = (first.metrics as net.AddressInfo).port
  t.not(publicPort, metricsPort)
  const web = startLoad(publicPort, { keepAlive: 20, fresh: 2, interval: PACE })
  const metrics = startLoad(metricsPort, { keepAlive: 10, fresh: 2, interval: PACE })
  t.teardown(() => Promise.all([web.stop(), metrics.stop()]))

  let pid = app.proc.pid!
  const pids = [pid]
  for (let i = 0; i < RELOADS; i++) {
    const { successorPid } = await reload(app, pid)
    await predecessorGone(app, successorPid)
    // each port is still served by its own app, now in the successor
    t.match((await request(publicPort, '/')).body, { app: 'public', pid: successorPid, generation: i + 2 })
    t.match((await request(metricsPort, '/')).body, { app: 'metrics', pid: successorPid, generation: i + 2 })
    pid = successorPid
    pids.push(pid)
  }
  const [webOutcome, metricsOutcome] = await Promise.all([web.stop(), metrics.stop()])
  t.comment(`two apps: reloads ${RELOADS}, public requests ${webOutcome.ok + webOutcome.failed} failed ${webOutcome.failed} ${JSON.stringify(webOutcome.failures)}, ` +
    `metrics requests ${metricsOutcome.ok + metricsOutcome.failed} failed ${metricsOutcome.failed} ${JSON.stringify(metricsOutcome.failures)}`)
  t.equal(webOutcome.failed, 0, 'no request failed on the public port')
  t.equal(metricsOutcome.failed, 0, 'no request failed on the metrics port')
  for (const p of pids) {
    t.ok((webOutcome.byPid[p] ?? 0) > 0 && (metricsOutcome.byPid[p] ?? 0) > 0, `generation pid ${p} served both ports`)
  }

  for (const p of pids.slice(0, -1)) {
    const started = app.lines.filter(l => l.pid === p && l.event === 'upgrade.started')
    t.equal(started.length, 1, `pid ${p}: one signal, one upgrade`)
    t.equal(started[0]?.sockets, 2, `pid ${p} handed over both listening sockets`)
    t.equal(app.lines.filter(l => l.pid === p && exitLine(l, 'upgrade')).length, 1, `pid ${p} drained and exited once`)
  }
  t.equal(app.lines.filter(l => l.event === 'ready').length, RELOADS + 1, 'each generation got ready once, with both apps listening')

  await app.stop(pid)
  const hooks = readFileSync(app.atExitFile, 'utf8').trim().split('\n').sort()
  t.same(hooks, pids.flatMap(p => [`metrics ${p}`, `public ${p}`]).sort(), 'each app\'s atExit hook ran once per generation')
})
