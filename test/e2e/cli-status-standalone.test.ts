// `status` against a real standalone server: attempts with their outcome, the draining
// predecessor and its open connection.
import { rmSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import net from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { EXIT } from '../../lib/cli'
import { predecessorGone, startApp, tempDir } from '../helpers/app'
import { cli, statusJson } from '../helpers/cli'

t.test('status of a real standalone server: attempts, draining pid and its open connection', async t => {
  const bootFile = join(tempDir('fhr-'), 'boot')
  writeFileSync(bootFile, 'throw')
  // without the hand-over, so that a connection stays with the draining predecessor
  const app = await startApp({ BOOT_FILE: bootFile, READY_TIMEOUT: '60000', DRAIN_TIMEOUT: '60000', HANDOVER: '0' })
  t.teardown(() => app.kill())
  const first = app.proc.pid!

  const fresh = await statusJson(app.pidFile)
  t.match(fresh, { running: true, pid: first, supervised: false, generation: 1, state: 'serving', serving: [{ pid: first, connections: 0 }], draining: [], attempts: [] })
  t.ok(fresh.uptimeMs! >= 0 && fresh.uptimeMs! < 120_000, `uptime ${fresh.uptimeMs}`)
  t.ok(Date.parse(fresh.since!) <= Date.now())

  t.equal((await cli('reload', '--pid-file', app.pidFile)).code, EXIT.failed)
  const failed = await statusJson(app.pidFile)
  t.match(failed.attempts, [{ state: 'failed', code: 'FST_HOT_RESTART_SUCCESSOR_EXITED', message: /boom at boot/, pid: first, generation: 2, successorPid: Number }])
  t.type(failed.attempts[0]!.durationMs, 'number')

  // a connection that sends nothing: the drain waits for it until drainTimeout
  rmSync(bootFile)
  const client = net.connect(app.port, '127.0.0.1')
  t.teardown(() => client.destroy())
  await once(client, 'connect')
  // connected is not yet accepted (the server may be slow to accept): wait for it, bounded
  const deadline = Date.now() + 30_000
  let counted = await statusJson(app.pidFile)
  while (counted.serving[0]!.connections !== 1 && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 50))
    counted = await statusJson(app.pidFile)
  }
  t.same(counted.serving, [{ pid: first, connections: 1 }])

  const ok = await cli('reload', '--pid-file', app.pidFile)
  t.equal(ok.code, EXIT.ok, ok.err)
  const second = Number(/-> (\d+)/.exec(ok.out)![1])
  const after = await statusJson(app.pidFile)
  t.match(after, { pid: second, generation: 2, state: 'serving', serving: [{ pid: second, connections: 0 }], draining: [{ pid: first, connections: 1 }] })
  t.match(after.attempts, [
    { state: 'succeeded', pid: first, successorPid: second, generation: 2 },
    { state: 'failed', pid: first, code: 'FST_HOT_RESTART_SUCCESSOR_EXITED' }
  ])
  t.type(after.attempts[0]!.durationMs, 'number')
  const people = await cli('status', '--pid-file', app.pidFile)
  t.match(people.out, new RegExp(`^serving {5}pid ${second}, 0 open connections\ngeneration  2\nstate {7}serving\nup {10}.*\ndraining {4}pid ${first}, 1 open connection\nattempts {4}\\(newest first\\)\n.*succeeded by pid ${first}, successor pid ${second}, generation 2, \\d+ ms\n.*failed {4}by pid ${first}`))

  client.destroy()
  await predecessorGone(app, second)
  t.same((await statusJson(app.pidFile)).draining, [], 'nothing drains once the predecessor has exited')
  await app.stop(second)
})
