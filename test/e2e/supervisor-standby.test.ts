// Hot standby (`run --standby`) with real processes: a spare boots at a low CPU priority and
// does not accept; kill -9 of the serving generation: the spare takes over (its pid serves), a
// client polling on new connections sees no refused connection and no failed request, and the
// next spare boots. A reload replaces the spare; a stop ends it too. In-process: test/unit/standby.test.ts.
import { readdirSync, readFileSync } from 'node:fs'
import http from 'node:http'
import t from 'tap'
import { splitCommand } from '../../lib/run'
import { on } from '../helpers/log-lines'
import { alive } from '../helpers/proc'
import { portOf, servingPid, startSupervisor } from '../helpers/supervisor'

/** The nice value of every thread of `pid`. */
function nices (pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map(tid => Number(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]))
}

/** One request on a new connection: the pid that answered, or why it failed, and how long it took. */
function poll (port: number): Promise<{ pid?: number, failed?: string, ms: number }> {
  const started = performance.now()
  return new Promise(resolve => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 30_000 }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', chunk => { body += chunk })
      res.on('end', () => {
        const ms = performance.now() - started
        if (res.statusCode !== 200) return resolve({ failed: `status ${res.statusCode}`, ms })
        resolve({ pid: (JSON.parse(body) as { pid: number }).pid, ms })
      })
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ failed: err.code ?? err.message, ms: performance.now() - started }))
  })
}

t.test('the flag takes no value', async t => {
  t.same(splitCommand(['--standby', 'app.js']), { options: ['--standby'], command: ['app.js'] })
})

t.test('kill -9 of the serving generation: the spare takes over, 0 failed requests, the next spare boots', async t => {
  const s = await startSupervisor({ env: { QUIET: '1' }, args: ['--standby'] })
  t.teardown(() => s.kill())
  const port = await portOf(s)
  const gen1 = servingPid(s)
  const ready = await s.waitFor(on('standby.ready'), 'a spare to stand by', 0, 120_000)
  const spare = ready.standbyPid as number
  t.not(spare, gen1)
  // lowered only where it can be raised back (CAP_SYS_NICE): what the log says is what /proc says
  const low = ready.nice === undefined ? 0 : ready.nice as number
  t.ok(nices(spare).every(n => n === low), `the spare waits at nice ${low}`)
  t.match(await s.waitFor(l => l.pid === spare && l.event === 'standby.waiting', 'the spare\'s own line'), { bootMs: Number }, 'it has booted')

  // a client that polls on new connections every 5 ms and retries nothing; the serving
  // generation is killed between two of its requests
  const outcomes: Array<{ pid?: number, failed?: string, ms: number }> = []
  let killAt: number | undefined
  let after = 0
  const from = s.lines.length
  const restarted = s.waitFor(l => l.event === 'supervisor.restarted', 'the takeover', from, 120_000)
  let takenOver = false
  void restarted.then(() => { takenOver = true })
  while (after < 50 && outcomes.length < 20_000) {
    const outcome = await poll(port)
    outcomes.push(outcome)
    if (killAt === undefined && outcomes.length >= 50) {
      killAt = outcomes.length
      process.kill(gen1, 'SIGKILL')
    }
    if (takenOver) after++
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  const line = await restarted
  t.match(line, { servingPid: spare, standby: true, delayMs: 0 }, 'the spare serves')
  const failed = outcomes.filter(o => o.failed !== undefined)
  const longest = Math.max(...outcomes.slice(killAt).map(o => o.ms))
  t.comment(`standby takeover: ${outcomes.length} requests, failed: ${failed.length} ${JSON.stringify(failed)}, longest wait after the kill: ${Math.round(longest)} ms, downMs: ${String(line.downMs)}`)
  t.equal(failed.length, 0, 'no refused connection, no failed request')
  t.equal(outcomes.at(-1)!.pid, spare, 'answered by the spare')
  t.ok(nices(spare).every(n => n === 0), 'every thread of the new serving generation is back at nice 0')

  const next = await s.waitFor(l => l.event === 'standby.ready' && l.standbyPid !== spare, 'the next spare', from, 120_000)
  t.not(next.standbyPid, spare)
  t.ok(alive(next.standbyPid as number))

  // a reload: the spare runs the old code; it goes once the new generation serves, another boots
  const reloadFrom = s.lines.length
  process.kill(s.proc.pid!, 'SIGHUP')
  await s.waitFor(on('supervisor.reload.ready'), 'the reload', reloadFrom, 120_000)
  t.match(await s.waitFor(on('standby.stale'), 'the stale spare', reloadFrom), { standbyPid: next.standbyPid })
  const fresh = await s.waitFor(on('standby.ready'), 'a spare of the new code', reloadFrom, 120_000)

  // a stop: the spare goes too, nothing is left
  process.kill(s.proc.pid!, 'SIGTERM')
  t.equal(await s.ended, 0)
  t.notOk(alive(fresh.standbyPid as number), 'the spare has exited')
  t.notOk(alive(next.standbyPid as number))
  t.notOk(alive(spare))
})
