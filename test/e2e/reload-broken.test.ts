// A successor that cannot boot changes nothing: the predecessor serves on with 0 failed
// requests, the successor is gone, upgrade() rejects with a code, and a fixed successor then
// takes over.
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { predecessorGone, reload, startApp, tempDir, type RunningApp } from '../helpers/app'
import { request } from '../helpers/http'
import { PACE, startLoad } from '../helpers/load'
import { alive } from '../helpers/proc'

// A successor that exits or is killed fails the upgrade when it dies, not at readyTimeout:
// these run with a readyTimeout far above any boot on a loaded machine (at 15 s, a successor
// booting through tap's TypeScript loader at load average 10 once timed out before it threw, and
// SUCCESSOR_EXITED came back as SUCCESSOR_TIMEOUT). The hang has its own app and a short timeout.
const exits = [
  { boot: 'throw', code: 'FST_HOT_RESTART_SUCCESSOR_EXITED', reason: /exited with code 1 before it was ready: Error: boom at boot/ },
  { boot: 'exit0', code: 'FST_HOT_RESTART_SUCCESSOR_EXITED', reason: /exited with code 0 before it was ready/ },
  { boot: 'kill', code: 'FST_HOT_RESTART_SUCCESSOR_EXITED', reason: /was killed by SIGKILL before it was ready/ }
]
const hang = { boot: 'hang', code: 'FST_HOT_RESTART_SUCCESSOR_TIMEOUT', reason: /was not ready within 15000 ms and was killed/ }

/**
 * Under load, one failed upgrade per case; each must change nothing: upgrade() rejects with the
 * case's code and reason, the successor is gone, and the predecessor served every request.
 */
async function failEach (t: Test, cases: Array<typeof hang>, readyTimeout: number): Promise<{ app: RunningApp, bootFile: string }> {
  const bootFile = join(tempDir('fhr-boot-'), 'boot')
  const app = await startApp({ QUIET: '1', BOOT_FILE: bootFile, READY_TIMEOUT: String(readyTimeout) })
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const load = startLoad(app.port, { keepAlive: 20, fresh: 2, interval: PACE })

  for (const c of cases) {
    writeFileSync(bootFile, c.boot)
    const from = app.lines.length
    const res = await request(app.port, '/upgrade', { method: 'POST' })
    t.equal(res.status, 500, `${c.boot}: upgrade() rejected`)
    t.equal(res.body.code, c.code, `${c.boot}: with ${c.code}`)
    t.match(res.body.message, c.reason, `${c.boot}: with the reason`)
    // the answer can come before the failure's log line (pino writes asynchronously): wait for
    // it, or this would read the previous case's line, and reload() below take it for its answer
    const failed = await app.waitFor(l => l.event === 'upgrade.failed', `${c.boot}: the failure's log line`, from)
    t.equal(failed.pid, pid, `${c.boot}: the predecessor logged the failure`)
    t.match(res.body.message, `(pid ${failed.successorPid as number})`, `${c.boot}: the failure logged is this one`)
    const successorPid = failed.successorPid as number
    t.ok(successorPid > 0 && !alive(successorPid), `${c.boot}: the successor is gone (no zombie: it was reaped)`)
  }
  const outcome = await load.stop()
  t.comment(`requests during the ${cases.length} failed upgrades: ${outcome.ok + outcome.failed}, failed: ${outcome.failed}`)
  t.equal(outcome.failed, 0, 'no request failed while the successors failed')
  t.same(Object.keys(outcome.byPid), [String(pid)], 'the predecessor served every request')
  return { app, bootFile }
}

t.test('broken successors are killed, the predecessor serves on, a fixed one takes over', async t => {
  const { app, bootFile } = await failEach(t, exits, 120000)
  const pid = app.proc.pid!
  rmSync(bootFile)
  const { successorPid } = await reload(app, pid)
  t.not(successorPid, pid, 'the fixed successor took over')
  await predecessorGone(app, successorPid)
  await app.stop(successorPid)
})

t.test('a successor that never becomes ready is killed at readyTimeout, the predecessor serves on', async t => {
  const { app } = await failEach(t, [hang], 15000)
  await app.stop(app.proc.pid!)
})
