// Behind a real reverse proxy with a keep-alive pool of upstream connections (nginx, HAProxy):
// across reloads, the proxy's upstream connections, busy and idle, move to the successor, and
// the proxy sees no upstream error: 0 proxy errors (502/504), 0 failed requests. The proxies
// are configured not to retry a failed upstream request (see test/helpers/proxy.ts), so every
// upstream error would reach the client.
import t from 'tap'
import { predecessorGone, reload, startApp } from '../helpers/app'
import { PACE, startLoad, type Outcome } from '../helpers/load'
import { installed, startHaproxy, startNginx, type Proxy } from '../helpers/proxy'
import { summary } from '../helpers/raw-http'

t.setTimeout(240000)

/** Resolves once `check` holds, polling the load's counts every 10 ms (at most `timeout` ms). */
async function until (check: () => boolean, what: string, timeout = 60000): Promise<void> {
  const started = performance.now()
  while (!check()) {
    if (performance.now() - started > timeout) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

const proxies: Array<[string, (port: number) => Promise<Proxy>]> = [['nginx', port => startNginx(port)], ['haproxy', port => startHaproxy(port)]]

for (const [name, start] of proxies) {
  t.test(`${name} with an upstream keep-alive pool, under load: 3 reloads, 0 proxy errors, every upstream connection moved`, { skip: installed(name) ? false : `${name} is not installed (.ci/run installs it)` }, async t => {
    const app = await startApp({ QUIET: '1' })
    t.teardown(() => app.kill())
    const proxy = await start(app.port)
    t.teardown(() => proxy.stop())
    // a burst of 30 clients fills the proxy's pool; the 10 that go on leave the rest idle in it
    const burst = startLoad(proxy.port, { keepAlive: 30, fresh: 0 })
    await until(() => burst.outcome.ok >= 300, 'the burst')
    const warm: Outcome = await burst.stop()
    const load = startLoad(proxy.port, { keepAlive: 10, fresh: 1, interval: PACE })
    t.teardown(() => load.stop())
    let pid = app.proc.pid!
    for (let i = 0; i < 3; i++) {
      const { successorPid } = await reload(app, pid)
      const report = await summary(app, pid)
      t.ok(report.moved > 0, `reload ${i + 1}: ${report.moved} upstream connections moved`)
      t.equal(report.closedIdle + report.forced, 0, 'none closed')
      await predecessorGone(app, successorPid)
      const before = load.outcome.byPid[successorPid] ?? 0
      await until(() => (load.outcome.byPid[successorPid] ?? 0) > before, 'the successor to serve through the proxy')
      pid = successorPid
    }
    const outcome = await load.stop()
    t.same({ ...warm.failures, ...outcome.failures }, {}, `0 failed requests (${warm.ok + outcome.ok} answered), no 502 or 504`)
    t.notMatch(proxy.log(), /upstream|failed|reset|refused/i, `${name} logged no upstream error`)
    t.comment(`${name}: ${outcome.ok} requests during 3 reloads, by pid ${JSON.stringify(outcome.byPid)}`)
    // the proxy first (its pool's connections close), so that the stop does not wait idleGrace for them
    await proxy.stop()
    await app.stop(pid)
  })
}
