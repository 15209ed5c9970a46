// The CLI, in-process through main(): arguments, pid files, and the outcome of a reload and a
// stop against real servers.
import { writeFileSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import t from 'tap'
import { EXIT, main } from '../../lib/cli'
import { writeServing } from '../../lib/pid-file'
import { predecessorGone, startApp, tempDir } from '../helpers/app'

async function run (...argv: string[]): Promise<{ code: number, out: string, err: string }> {
  let out = ''
  let err = ''
  const code = await main(argv, { out: { write: (s: string) => { out += s } }, err: { write: (s: string) => { err += s } } })
  return { code, out, err }
}

const dir = tempDir('fhr-cli-')

t.test('help', async t => {
  for (const args of [['--help'], ['-h'], ['help']]) {
    const r = await run(...args)
    t.equal(r.code, EXIT.ok)
    t.match(r.out, /Usage:[\s\S]*Exit codes:/)
  }
})

t.test('bad arguments exit 2 and say why', async t => {
  const cases: Array<[string[], RegExp]> = [
    [[], /missing command/],
    [['restart'], /unknown command "restart"/],
    [['reload'], /missing --pid-file/],
    [['reload', '--pid-file', ''], /missing --pid-file/],
    [['reload', '--pid-file', 'x', '--bogus'], /unknown option --bogus for "reload"/],
    [['reload', '--pid-file', 'x', 'extra'], /unexpected argument "extra"/],
    [['reload', '--pid-file', 'x', '--timeout', '5s'], /--timeout expects a whole number of milliseconds from 1 to 2147483647, got "5s"/],
    [['reload', '--pid-file', 'x', '--timeout', '0'], /--timeout expects/],
    [['reload', '--pid-file', 'x', '--signal', 'USR2'], /--signal expects a signal name such as SIGUSR2, got "USR2"/],
    [['reload', '--pid-file', 'x', '--signal', 'SIGKILL'], /--signal expects/],
    [['stop', '--pid-file', 'x', '--signal', 'SIGHUP'], /--signal goes with reload only/]
  ]
  for (const [args, message] of cases) {
    const r = await run(...args)
    t.equal(r.code, EXIT.usage, args.join(' '))
    t.match(r.err, message, args.join(' '))
  }
})

t.test('no usable server: exit 3 with what to do', async t => {
  const missing = await run('reload', '--pid-file', join(dir, 'none.pid'))
  t.equal(missing.code, EXIT.noServer)
  t.match(missing.err, /no pid file at .*none\.pid: is the server running\?/)

  const malformed = join(dir, 'malformed.pid')
  writeFileSync(malformed, 'hello\n')
  t.match((await run('reload', '--pid-file', malformed)).err, /does not hold a pid/)

  const unreadable = join(dir, 'folder.pid')
  const { mkdirSync } = await import('node:fs')
  mkdirSync(unreadable)
  const r = await run('reload', '--pid-file', unreadable)
  t.equal(r.code, EXIT.noServer)
  t.match(r.err, /refusing to use .*folder\.pid: it is a folder, not a regular file/)

  // a pid that no process has any more
  const gone = spawn(process.execPath, ['-e', ''])
  await once(gone, 'exit')
  const stale = join(dir, 'stale.pid')
  writeServing(stale, gone.pid!, 1)
  const s = await run('stop', '--pid-file', stale)
  t.equal(s.code, EXIT.noServer)
  t.match(s.err, new RegExp(`stale pid file .*: no process ${gone.pid} is running`))

  // a live process that is not ours: no status file names it
  const other = join(dir, 'other.pid')
  writeFileSync(other, `${process.pid}\n`)
  const o = await run('reload', '--pid-file', other)
  t.equal(o.code, EXIT.noServer)
  t.match(o.err, /is not a fastify-hot-restart server/)

  // a process of another user (pid 1 is root's; the tests may run as root, then it is alive and not ours)
  const init = join(dir, 'init.pid')
  writeServing(init, 1, 1)
  const i = await run('reload', '--pid-file', init, '--signal', 'SIGCONT', '--timeout', '200')
  t.ok(i.code === EXIT.noServer || i.code === EXIT.timeout, 'refused, or signalled and timed out')
})

t.test('reload and stop against a real server; a failed reload says why', async t => {
  const bootFile = join(tempDir('fhr-'), 'boot')
  writeFileSync(bootFile, 'throw')
  const app = await startApp({ BOOT_FILE: bootFile, READY_TIMEOUT: '20000' })
  t.teardown(() => app.kill())
  const pid = app.proc.pid!

  const failed = await run('reload', '--pid-file', app.pidFile)
  t.equal(failed.code, EXIT.failed, 'a broken successor: exit 1')
  t.match(failed.err, /reload failed: .*exited with code 1 before it was ready: Error: boom at boot \(FST_HOT_RESTART_SUCCESSOR_EXITED\)/)

  const { rmSync } = await import('node:fs')
  rmSync(bootFile)
  const ok = await run('reload', '--pid-file', app.pidFile)
  t.equal(ok.code, EXIT.ok, ok.err)
  const m = /^reloaded: (\d+) -> (\d+) \(generation 2\) in \d+ ms\n$/.exec(ok.out)
  t.ok(m, ok.out)
  t.equal(Number(m![1]), pid)
  const successor = Number(m![2])

  // the successor refuses while its predecessor drains: the CLI says so (or the predecessor is gone already)
  await predecessorGone(app, successor)
  const tooShort = await run('reload', '--pid-file', app.pidFile, '--timeout', '1')
  t.equal(tooShort.code, EXIT.timeout)
  t.match(tooShort.err, /timed out after 1 ms/)
  // that reload goes on: wait for it so that the stop below finds one process
  const next = await app.waitFor(l => l.event === 'upgrade.ready' && l.pid === successor, 'the third generation')
  await predecessorGone(app, next.successorPid as number)

  const stopped = await run('stop', '--pid-file', app.pidFile)
  t.equal(stopped.code, EXIT.ok, stopped.err)
  t.match(stopped.out, new RegExp(`^stopped: ${next.successorPid} in \\d+ ms\\n$`))
  await app.ended
})

t.test('a reload refused by the server exits 1 with the reason', async t => {
  const app = await startApp({ READY_TIMEOUT: '20000' })
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  process.kill(pid, 'SIGUSR2')
  await app.waitFor(l => l.event === 'upgrade.started', 'the first upgrade')
  const refused = await run('reload', '--pid-file', app.pidFile)
  t.equal(refused.code, EXIT.failed)
  t.match(refused.err, /reload failed: .*upgrade is already in progress \(FST_HOT_RESTART_UPGRADE_IN_PROGRESS\)/)
  const next = await app.waitFor(l => l.event === 'upgrade.ready', 'the upgrade to finish')
  await predecessorGone(app, next.successorPid as number)
  await app.stop(next.successorPid as number)
})

t.test('stop times out against a process that ignores SIGTERM', async t => {
  const child = spawn(process.execPath, ['-e', 'process.on("SIGTERM", () => {}); console.log("up"); setInterval(() => {}, 1000)'], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => child.kill('SIGKILL'))
  await once(child.stdout!, 'data')
  const pidFile = join(dir, 'stubborn.pid')
  writeServing(pidFile, child.pid!, 1)
  const r = await run('stop', '--pid-file', pidFile, '--timeout', '300')
  t.equal(r.code, EXIT.timeout)
  t.match(r.err, /timed out after 300 ms waiting for \d+ to exit/)
})

t.test('a server that exits instead of reloading: exit 1', async t => {
  const child = spawn(process.execPath, ['-e', 'process.on("SIGUSR2", () => process.exit(0)); console.log("up"); setInterval(() => {}, 1000)'], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => child.kill('SIGKILL'))
  await once(child.stdout!, 'data')
  const pidFile = join(dir, 'quitter.pid')
  writeServing(pidFile, child.pid!, 1)
  const r = await run('reload', '--pid-file', pidFile)
  t.equal(r.code, EXIT.failed)
  t.match(r.err, new RegExp(`reload failed: the server \\(pid ${child.pid}\\) exited during the reload`))
})

t.test('reload: a status file that names another process than the pid file is not read as the outcome', async t => {
  const pidFile = join(dir, 'between.pid')
  // on the signal, the status file names a new generation whose pid file is not written yet
  const child = spawn(process.execPath, ['-e', `process.on("SIGUSR2", () => { require("node:fs").writeFileSync(${JSON.stringify(`${pidFile}.status`)}, JSON.stringify({ pid: 1, generation: 2, attempt: 0, attempts: {} })); console.log("wrote") }); console.log("up"); setInterval(() => {}, 1000)`], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => child.kill('SIGKILL'))
  await once(child.stdout!, 'data')
  writeServing(pidFile, child.pid!, 1)
  const wrote = new Promise<void>(resolve => child.stdout!.on('data', d => { if (String(d).includes('wrote')) resolve() }))
  const r = await run('reload', '--pid-file', pidFile, '--timeout', '1000')
  await wrote
  t.equal(r.code, EXIT.timeout, 'it waits for the pid file (and here times out)')
  t.match(r.err, /timed out after 1000 ms waiting for the reload/)
})
