// `run --env-file <path>` with real processes: two keep-alive clients poll an app that answers
// with its RELEASE variable while the file changes. A reload after a change serves the new value;
// a broken file fails the reload (FST_HOT_RESTART_ENV_FILE, with the line, from `reload`) and the
// serving generation answers on; a name removed from the file gives back the supervisor's value.
// No request fails throughout. The parser's edge cases and the crash restart: test/unit/env-file.test.ts.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { fixture, tempDir } from '../helpers/app'
import { cli } from '../helpers/cli'
import { poll } from '../helpers/http'
import { on } from '../helpers/log-lines'
import { portOf, predecessorGone, servingPid, startSupervisor } from '../helpers/supervisor'

t.test('run --env-file: a reload reads the file again; a broken file fails the reload and the serving generation answers on, 0 failed requests', async t => {
  const file = join(tempDir('fhr-env-'), 'app.env')
  writeFileSync(file, '# the release\nRELEASE=1\n')
  const s = await startSupervisor({ env: { RELEASE: 'supervisor' }, args: ['--env-file', file], command: [process.execPath, fixture('env-app.ts')] })
  t.teardown(() => s.kill())
  const port = await portOf(s)
  const clients = poll<{ release: string | null }>(port)
  t.teardown(() => clients.stop())
  /** Resolves once the clients see `release`. */
  const serves = async (release: string): Promise<void> => {
    t.ok(await clients.until(o => o.release === release), `RELEASE=${release} is served`)
  }
  /** Reloads with the CLI; once it succeeded, waits for the old generation's exit. */
  const reload = async (): Promise<{ code: number, out: string, err: string }> => {
    const from = s.lines.length
    const result = await cli('reload', '--pid-file', s.pidFile)
    if (result.code === 0) {
      await s.waitFor(on('supervisor.reload.ready'), 'the reload', from, 60_000)
      await predecessorGone(s, servingPid(s))
    }
    return result
  }
  await serves('1')

  writeFileSync(file, '# the release\nRELEASE=2\n')
  t.match(await reload(), { code: 0, out: /^reloaded: generation 2 /m })
  await serves('2')

  writeFileSync(file, '# the release\nRELEASE=3\nthis line has no equals sign\n')
  const from = s.lines.length
  const failed = await reload()
  t.equal(failed.code, 1, 'reload exits 1')
  t.equal(failed.err, `reload failed: fastify-hot-restart: cannot use the environment file ${file}: line 3: expected NAME=value (FST_HOT_RESTART_ENV_FILE)\n`)
  const logged = await s.waitFor(on('supervisor.reload.failed'), 'the failure', from)
  t.equal(logged.code, 'FST_HOT_RESTART_ENV_FILE')
  t.notOk(s.lines.slice(from).some(on('supervisor.worker-started')), 'no worker was started')
  const after = await clients.next(20)
  t.ok(after.length >= 20 && after.every(o => o.release === '2'), 'the serving generation answers on')

  writeFileSync(file, 'OTHER=1\n')
  t.match(await reload(), { code: 0, out: /^reloaded: generation 3 /m })
  await serves('supervisor')

  const outcomes = await clients.stop()
  t.same(outcomes.filter(o => o.error !== undefined), [], `0 failed of ${outcomes.length} requests`)
  s.proc.kill('SIGTERM')
  t.equal(await s.ended, 0)
})
