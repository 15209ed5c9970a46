// The CLI against real servers when something is off (issue 10 items 10, 11): a server with
// another reload signal, a pid file that cannot be written, an earlier attempt's record that
// reaches the disk late, a folder watcher that cannot be created.
import { execFileSync } from 'node:child_process'
import fs, { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { EXIT, main } from '../../lib/cli'
import { statusPath } from '../../lib/pid-file'
import { predecessorGone, startApp, tempDir } from '../helpers/app'

function run (...argv: string[]): Promise<{ code: number, out: string, err: string }> {
  let out = ''
  let err = ''
  return main(argv, { out: { write: (s: string) => { out += s } }, err: { write: (s: string) => { err += s } } })
    .then(code => ({ code, out, err }))
}

t.test('reload without --signal uses the signal the server records (SIGHUP here): it reloads, not stops', async t => {
  const app = await startApp({ SIGNAL: 'SIGHUP', READY_TIMEOUT: '20000' })
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const r = await run('reload', '--pid-file', app.pidFile)
  t.equal(r.code, EXIT.ok, r.err)
  const m = /^reloaded: (\d+) -> (\d+) \(generation 2\)/.exec(r.out)
  t.ok(m, r.out)
  t.equal(Number(m?.[1]), pid)
  await predecessorGone(app, Number(m?.[2]))
  await app.stop(Number(m?.[2]))
})

t.test('files the successor cannot write: the reload is reported done, with a warning; stop still reaches it', async t => {
  const bootFile = join(tempDir('fhr-'), 'boot')
  writeFileSync(bootFile, 'hold')
  const app = await startApp({ BOOT_FILE: bootFile, READY_TIMEOUT: '20000', IGNORE_SIGXFSZ: '1' })
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const reloading = run('reload', '--pid-file', app.pidFile)
  // the successor holds at boot; no file it writes may grow past 0 bytes (EFBIG), then it goes on
  const held = await app.waitFor(l => l.msg === 'boot: holding' && l.pid !== pid, 'the successor to hold')
  const successor = held.pid as number
  execFileSync('prlimit', ['--pid', String(successor), '--fsize=0:0'])
  rmSync(`${bootFile}.${successor}`)
  const r = await reloading
  t.equal(r.code, EXIT.ok, r.err)
  t.equal(r.out.replace(/in \d+ ms/, 'in N ms'), `reloaded: ${pid} -> ${successor} (generation 2) in N ms\n`)
  t.match(r.err, /^warning: the pid file .*app\.pid still names \d+: the new generation could not write it \(its log says why\); reload and stop find it through .*app\.pid\.status\n$/)
  // the CLI's answer can come before the successor's log line (pino writes asynchronously)
  t.match(await app.waitFor(l => l.pid === successor && l.msg === 'hot-restart: could not write the pid file', 'the successor\'s warning'), { err: { code: 'EFBIG' } }, 'the successor logs why')
  await predecessorGone(app, successor)
  const s = await run('stop', '--pid-file', app.pidFile)
  t.equal(s.code, EXIT.ok, s.err)
  t.match(s.err, new RegExp(`^warning: the pid file .*app\\.pid names ${pid}, which has exited; its successor ${successor} could not write it`))
  t.match(s.out, new RegExp(`^stopped: ${successor} in \\d+ ms\\n$`))
  await app.ended
})

t.test('an earlier attempt\'s record that reached the disk late is not this reload\'s outcome', async t => {
  const bootFile = join(tempDir('fhr-'), 'boot')
  writeFileSync(bootFile, 'throw')
  const app = await startApp({ BOOT_FILE: bootFile, READY_TIMEOUT: '20000' })
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  // attempt 1 fails while its record cannot be written (a folder where the status file goes)
  const saved = readFileSync(statusPath(app.pidFile), 'utf8')
  rmSync(statusPath(app.pidFile))
  mkdirSync(statusPath(app.pidFile))
  const from = app.lines.length
  process.kill(pid, 'SIGUSR2')
  await app.waitFor(l => String(l.msg).startsWith('hot-restart: upgrade failed'), 'attempt 1 to fail', from)
  rmSync(statusPath(app.pidFile), { recursive: true })
  writeFileSync(statusPath(app.pidFile), saved, { mode: 0o644 })
  rmSync(bootFile)
  // attempt 2 succeeds; its write also brings attempt 1's failure to the disk
  const r = await run('reload', '--pid-file', app.pidFile)
  t.equal(r.code, EXIT.ok, r.err)
  const m = new RegExp(`^reloaded: ${pid} -> (\\d+) \\(generation 2\\)`).exec(r.out)
  t.ok(m, r.out)
  await predecessorGone(app, Number(m?.[1]))
  await app.stop(Number(m?.[1]))
})

t.test('no folder watcher to be had (EMFILE: no inotify instance left): the CLI polls instead', async t => {
  const app = await startApp({ READY_TIMEOUT: '20000' })
  t.teardown(() => app.kill())
  const watch = fs.watch
  fs.watch = (() => { throw Object.assign(new Error('EMFILE: too many open files, watch'), { code: 'EMFILE' }) }) as typeof fs.watch
  t.teardown(() => { fs.watch = watch })
  const r = await run('reload', '--pid-file', app.pidFile)
  fs.watch = watch
  t.equal(r.code, EXIT.ok, r.err)
  const m = /^reloaded: \d+ -> (\d+) \(generation 2\)/.exec(r.out)
  t.ok(m, r.out)
  await predecessorGone(app, Number(m?.[1]))
  await app.stop(Number(m?.[1]))
})
