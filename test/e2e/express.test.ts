// The node:http adapter with Express 5: the same guarantees as the Fastify plugin.
import { once } from 'node:events'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { fixture, predecessorGone, reload, startApp, tempDir } from '../helpers/app'
import { request } from '../helpers/http'
import { PACE, startLoad } from '../helpers/load'

t.test('Express: 5 reloads under load with 0 failed requests, a broken successor tolerated, atExit hooks run', async t => {
  const bootFile = join(tempDir('fhr-'), 'boot')
  const app = await startApp({ BOOT_FILE: bootFile }, fixture('express-app.ts'))
  t.teardown(() => app.kill())
  let pid = app.proc.pid!
  const first = pid
  const load = startLoad(app.port, { keepAlive: 50, fresh: 4, interval: PACE })

  writeFileSync(bootFile, 'throw')
  const failed = await request(app.port, '/upgrade', { method: 'POST' })
  t.equal(failed.status, 500)
  t.equal(failed.body.code, 'FST_HOT_RESTART_SUCCESSOR_EXITED')
  t.match(failed.body.message, /boom at boot/)
  rmSync(bootFile)

  const exit = once(app.proc, 'exit')
  for (let i = 0; i < 5; i++) {
    const { successorPid } = await reload(app, pid)
    await predecessorGone(app, successorPid)
    pid = successorPid
  }
  const outcome = await load.stop()
  t.comment(`express: reloads 5, requests ${outcome.ok + outcome.failed}, failed ${outcome.failed} ${JSON.stringify(outcome.failures)}`)
  t.equal(outcome.failed, 0, 'no request failed')
  t.equal(Object.keys(outcome.byPid).length, 6, 'six generations served')
  t.equal((await exit)[0], 0, 'the first generation exited 0')
  t.equal(readFileSync(app.atExitFile, 'utf8').split('\n')[0], String(first), 'atExit ran in the first generation')
  await app.stop(pid)
})
