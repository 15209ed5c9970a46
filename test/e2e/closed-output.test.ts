// A closed stdout never stops a clean shutdown (issue 10, item 17): a developer pipes the logs
// (`node server.js | head`, `| grep`), the reader goes away, then Ctrl-C. The process must run
// its atExit hooks, remove its files and exit, in every mode.
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import t from 'tap'
import { fixture, startApp } from '../helpers/app'
import { startSupervisor } from '../helpers/supervisor'

/** Resolves with the exit code, or rejects after `ms` (the process hangs). */
function exitWithin (proc: import('node:child_process').ChildProcess, ms: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pid ${proc.pid} did not exit within ${ms} ms`)), ms)
    once(proc, 'exit').then(([code]) => { clearTimeout(timer); resolve(code as number | null) }, reject)
  })
}

for (const [name, file] of [['Fastify (pino)', 'app.ts'], ['Express (node:http adapter, JSON lines)', 'express-app.ts']]) {
  t.test(`${name}, standalone: SIGINT once stdout's reader has gone: hooks run, files removed, exit 0`, async t => {
    const app = await startApp({}, fixture(file!))
    t.teardown(() => app.kill())
    const pid = app.proc.pid!
    // the reader goes away: every write to stdout from now on meets a closed pipe
    app.proc.stdout!.destroy()
    process.kill(pid, 'SIGINT')
    t.equal(await exitWithin(app.proc, 30000), 0, 'it exits 0')
    t.equal(readFileSync(app.atExitFile, 'utf8'), `${pid}\n`, 'its atExit hook ran')
    t.notOk(existsSync(app.pidFile), 'its pid file is removed')
  })
}

t.test('supervised: SIGINT once stdout\'s reader has gone: the generation and the supervisor exit cleanly', async t => {
  const s = await startSupervisor()
  t.teardown(() => s.kill())
  const generation = s.lines.find(l => l.event === 'ready')!.pid
  s.proc.stdout!.destroy()
  s.proc.stderr!.destroy()
  process.kill(s.proc.pid!, 'SIGINT')
  t.equal(await exitWithin(s.proc, 30000), 0, 'the supervisor exits 0')
  t.equal(readFileSync(s.atExitFile, 'utf8'), `${generation}\n`, 'the generation ran its atExit hook')
  t.notOk(existsSync(s.pidFile), 'the supervisor\'s pid file is removed')
})
