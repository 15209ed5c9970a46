// Connection hand-over under a supervisor (`run`, lib/handover-relay.ts), with real processes:
// a draining worker sends each kept-alive connection to the supervisor, which relays it to a
// worker of the new generation; the client's next request is answered there on the same TCP
// connection. Raw kept-alive sockets and an HTTP agent's pool, with 1 and 2 workers.
import http from 'node:http'
import type net from 'node:net'
import t from 'tap'
import { PACE } from '../helpers/load'
import { ask, connect, type RawConnection } from '../helpers/raw-http'
import { exitLine } from '../helpers/log-lines'
import { portOf, predecessorGone, startSupervisor } from '../helpers/supervisor'

t.setTimeout(240000)

/** An agent whose pool of kept-alive connections counts every connection it opens. */
function countingAgent (sockets: number): { agent: http.Agent, opened: () => number } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets })
  let opened = 0
  const create = (agent as unknown as { createConnection: (...args: unknown[]) => net.Socket }).createConnection
  ;(agent as unknown as { createConnection: (...args: unknown[]) => net.Socket }).createConnection = function (this: http.Agent, ...args: unknown[]) {
    opened++
    return create.apply(this, args)
  }
  return { agent, opened: () => opened }
}

/** A GET through `agent`; resolves with the pid that answered, or the failure. */
function get (port: number, agent: http.Agent): Promise<{ pid?: number, failed?: string }> {
  return new Promise(resolve => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent, timeout: 10000 }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', chunk => { body += chunk })
      res.on('end', () => resolve(res.statusCode === 200 ? { pid: (JSON.parse(body) as { pid: number }).pid } : { failed: `status ${res.statusCode}` }))
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ failed: err.code ?? err.message }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ failed: err.code ?? err.message }))
  })
}

for (const workers of [1, 2]) {
  t.test(`run --workers ${workers}: kept-alive connections (raw and an agent's pool under load) move to the new generation across 2 reloads; 0 failed requests, 0 new connections`, async t => {
    const s = await startSupervisor({ env: { QUIET: '1' }, args: ['--workers', String(workers), '--ready-timeout', '120000'] })
    t.teardown(() => s.kill())
    const port = await portOf(s)
    let serving = s.lines.find(l => l.event === 'supervisor.serving')!.servingPids as number[]

    const idle: RawConnection[] = await Promise.all(Array.from({ length: 20 }, () => connect(port)))
    t.teardown(() => { for (const c of idle) c.close() })
    for (const c of idle) t.ok(serving.includes((await ask(c)).pid), 'answered by generation 1')

    // 5 clients on a pool of 5 kept-alive connections, one request each per PACE ms
    const { agent, opened } = countingAgent(5)
    t.teardown(() => agent.destroy())
    let running = true
    const failures: string[] = []
    let answered = 0
    const loops = Array.from({ length: 5 }, async () => {
      for (let i = 0; i < 50_000 && running; i++) {
        const r = await get(port, agent)
        if (r.failed !== undefined) failures.push(r.failed)
        else answered++
        await new Promise(resolve => setTimeout(resolve, PACE))
      }
    })
    while (answered < 50) await new Promise(resolve => setTimeout(resolve, 10))
    const pool = opened()

    for (let i = 0; i < 2; i++) {
      const from = s.lines.length
      process.kill(s.proc.pid!, 'SIGHUP')
      const ready = await s.waitFor(l => l.event === 'supervisor.reload.ready', `reload ${i + 1}`, from)
      const old = serving
      serving = ready.servingPids as number[]
      t.equal(serving.length, workers)
      const exits = await Promise.all(old.map(pid => s.waitFor(l => l.pid === pid && exitLine(l, 'upgrade'), `pid ${pid} to exit`, from)))
      const moved = exits.reduce((sum, l) => sum + (l.hotRestart as { moved: number }).moved, 0)
      const closed = exits.reduce((sum, l) => sum + (l.hotRestart as { closedIdle: number, forced: number }).closedIdle + (l.hotRestart as { forced: number }).forced, 0)
      t.ok(moved >= idle.length, `reload ${i + 1}: ${moved} connections moved`)
      t.equal(closed, 0, 'none closed')
      t.equal(exits.reduce((sum, l) => sum + (l.hotRestart as { notMoved: number }).notMoved, 0), 0, 'none fell back')
      await Promise.all(serving.map(pid => predecessorGone(s, pid)))
      const pids = new Set<number>()
      for (const c of idle) {
        const r = await ask(c)
        t.ok(serving.includes(r.pid) && !r.close, `answered by generation ${i + 2} (pid ${r.pid}), kept alive`)
        pids.add(r.pid)
      }
      t.equal(pids.size, workers, `the moved connections are spread over the ${workers} new worker(s)`)
    }
    running = false
    await Promise.all(loops)
    t.same(failures, [], `0 failed requests of ${answered}`)
    t.equal(opened(), pool, `the agent opened no new connection (${pool} in its pool)`)
    t.notOk(idle.some(c => c.closed), 'no raw connection was closed')
    t.equal(s.lines.filter(l => l.event === 'supervisor.connection.dropped').length, 0, 'the supervisor dropped none')
    process.kill(s.proc.pid!, 'SIGTERM')
    t.equal(await s.ended, 0)
  })
}
