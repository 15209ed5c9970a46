// diagnostics_channel events with real processes: a fixture subscribes to every channel and
// logs what it receives; a failed and a successful reload, then a shutdown, publish each
// moment once, with pids, generation, timings and the drain report.
import { writeFileSync, rmSync } from 'node:fs'
import diagnostics from 'node:diagnostics_channel'
import { join } from 'node:path'
import t from 'tap'
import { channels, publish } from '../../lib/events'
import { fixture, predecessorGone, reload, startApp, tempDir, type LogLine } from '../helpers/app'

t.test('nothing is built when nobody subscribes; a subscriber gets the message with the pid', async t => {
  let built = 0
  publish(channels.drainStart, () => { built++; return {} })
  t.equal(built, 0)
  const got: unknown[] = []
  const fn = (message: unknown): void => { got.push(message) }
  diagnostics.subscribe('fastify-hot-restart:drain:start', fn)
  publish(channels.drainStart, () => ({ reason: 'shutdown' }))
  diagnostics.unsubscribe('fastify-hot-restart:drain:start', fn)
  t.same(got, [{ pid: process.pid, reason: 'shutdown' }])
})

t.test('a failed reload, a reload and a shutdown publish each moment with pids, generation and timings', async t => {
  const bootFile = join(tempDir('fhr-events-'), 'boot')
  writeFileSync(bootFile, 'throw')
  const app = await startApp({ BOOT_FILE: bootFile, READY_TIMEOUT: '60000' }, fixture('events-app.ts'))
  t.teardown(() => app.kill())
  const first = app.proc.pid!
  const channel = (name: string, from = 0): Promise<LogLine> =>
    app.waitFor(l => l.msg === 'channel' && l.channel === name && app.lines.indexOf(l) >= from, `the ${name} event`)

  process.kill(first, 'SIGUSR2')
  const failed = (await channel('upgrade:failed')).message as Record<string, unknown>
  t.match(failed, { pid: first, successorPid: Number, generation: 2, code: 'FST_HOT_RESTART_SUCCESSOR_EXITED', message: /boom at boot/, durationMs: Number })
  t.match((await channel('upgrade:start')).message, { pid: first, successorPid: failed.successorPid, generation: 2 })

  // pino writes asynchronously, the subscriber synchronously: the failure's log line can come
  // after its channel line, and reload() below must not take it for the next reload's answer
  await app.waitFor(l => l.event === 'upgrade.failed' && l.pid === first, 'the failure\'s log line')
  rmSync(bootFile)
  const from = app.lines.length
  const { successorPid } = await reload(app, first)
  t.match((await channel('upgrade:start', from)).message, { pid: first, successorPid, generation: 2 })
  const ready = (await channel('upgrade:ready', from)).message as Record<string, unknown>
  t.match(ready, { pid: first, successorPid, generation: 2, signalToReadyMs: Number })
  t.match((await channel('drain:start', from)).message, { pid: first, reason: 'upgrade', successorPid, generation: 2 })
  const end = (await channel('drain:end', from)).message as Record<string, unknown>
  t.match(end, { pid: first, reason: 'upgrade', successorPid, generation: 2, durationMs: Number, report: { closedIdle: 0, goaway: 0, forced: 0, forcedRequests: 0, durationMs: Number } })
  await predecessorGone(app, successorPid)

  const last = app.lines.length
  await app.stop(successorPid)
  const shutdown = app.lines.filter(l => l.msg === 'channel' && app.lines.indexOf(l) >= last)
  t.match(shutdown.map(l => [l.channel, l.message]), [
    ['drain:start', { pid: successorPid, reason: 'shutdown', generation: 2 }],
    ['drain:end', { pid: successorPid, reason: 'shutdown', generation: 2, report: { forced: 0 } }]
  ])
  t.equal(app.lines.filter(l => l.msg === 'channel' && l.channel === 'upgrade:ready').length, 1, 'each moment once')
})
