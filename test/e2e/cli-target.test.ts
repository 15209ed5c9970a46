// The CLI checks what it is about to signal (issue 10 items 5, 14, 18): the pid file and the
// status file must be regular files of a trusted owner, small, not writable by others, and name
// the very process that wrote them (its start time); a zombie has exited.
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, chownSync, closeSync, ftruncateSync, openSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { EXIT, main } from '../../lib/cli'
import { statusPath, writeServing } from '../../lib/pid-file'
import { killOnExit, tempDir } from '../helpers/app'

async function run (...argv: string[]): Promise<{ code: number, out: string, err: string }> {
  let out = ''
  let err = ''
  const code = await main(argv, { out: { write: (s: string) => { out += s } }, err: { write: (s: string) => { err += s } } })
  return { code, out, err }
}

const dir = tempDir('fhr-cli-target-')
let files = 0

/** A live process that dies on SIGUSR2 and SIGTERM (their default action), with a pid file naming it. */
async function victim (t: Test): Promise<{ pid: number, pidFile: string, alive: () => boolean }> {
  const child = spawn(process.execPath, ['-e', 'console.log("up"); setInterval(() => {}, 1000)'], { stdio: ['ignore', 'pipe', 'inherit'], env: {} })
  killOnExit(child)
  t.teardown(() => { child.kill('SIGKILL') })
  await once(child.stdout!, 'data')
  const pidFile = join(dir, `v${++files}.pid`)
  writeServing(pidFile, child.pid!, 1)
  return { pid: child.pid!, pidFile, alive: () => child.exitCode === null && child.signalCode === null }
}

const notRoot = process.getuid?.() !== 0 && 'needs root, to give the files to another user'
t.test('files squatted by another user: refused, exit 3, nothing signalled', { skip: notRoot }, async t => {
  const v = await victim(t)
  chownSync(v.pidFile, 65534, 65534)
  chownSync(statusPath(v.pidFile), 65534, 65534)
  for (const command of ['reload', 'stop']) {
    const r = await run(command, '--pid-file', v.pidFile, '--timeout', '2000')
    t.equal(r.code, EXIT.noServer, `${command}: ${r.err}`)
    t.match(r.err, new RegExp(`${v.pidFile.replace(/\./g, '\\.')} is owned by uid 65534: neither you \\(uid 0\\), root, nor the owner of process ${v.pid} \\(uid 0\\)`))
  }
  t.ok(v.alive(), 'the process named by the files was not signalled')
})

t.test('files that others may write: refused, exit 3', async t => {
  const v = await victim(t)
  chmodSync(statusPath(v.pidFile), 0o666)
  const r = await run('reload', '--pid-file', v.pidFile, '--timeout', '2000')
  t.equal(r.code, EXIT.noServer)
  t.match(r.err, /\.status is writable by its group or by others \(mode 0666\): refusing to trust it/)
  t.ok(v.alive())
})

t.test('a pid reused by another process (its start time is not the one recorded): refused, exit 3', async t => {
  const v = await victim(t)
  const status = JSON.parse(readFileSync(statusPath(v.pidFile), 'utf8'))
  t.match(status.start, /^\d+$/, 'the status file records the process\'s start time')
  writeFileSync(statusPath(v.pidFile), JSON.stringify({ ...status, start: '1' }))
  const r = await run('stop', '--pid-file', v.pidFile, '--timeout', '2000')
  t.equal(r.code, EXIT.noServer)
  t.match(r.err, new RegExp(`process ${v.pid} is not the server that wrote .*: it started at tick \\d+, the server at tick 1 \\(the pid was reused\\?\\)`))
  t.ok(v.alive())
})

t.test('--pid-file naming a FIFO, a device, a huge file: exit 3 at once, with the reason', async t => {
  const fifo = join(dir, 'fifo.pid')
  execFileSync('mkfifo', [fifo])
  const f = await run('reload', '--pid-file', fifo, '--timeout', '1000')
  t.equal(f.code, EXIT.noServer)
  t.match(f.err, /^refusing to use .*fifo\.pid: it is a FIFO, not a regular file\n$/)
  const z = await run('stop', '--pid-file', '/dev/zero')
  t.equal(z.code, EXIT.noServer)
  t.match(z.err, /^refusing to use \/dev\/zero: it is a character device, not a regular file\n$/)
  const huge = join(dir, 'huge.pid')
  const fd = openSync(huge, 'w')
  ftruncateSync(fd, 1024 ** 3)
  closeSync(fd)
  const h = await run('reload', '--pid-file', huge)
  t.equal(h.code, EXIT.noServer)
  t.match(h.err, /^refusing to use .*huge\.pid: it is 1073741824 bytes, more than 64\n$/)
})

t.test('--timeout beyond what a timer can wait: exit 2, naming the option and the range', async t => {
  for (const value of ['99999999999', '2147483648', '0', '1.5']) {
    const r = await run('reload', '--pid-file', 'x', '--timeout', value)
    t.equal(r.code, EXIT.usage, value)
    t.match(r.err, new RegExp(`--timeout expects a whole number of milliseconds from 1 to 2147483647, got "${value.replace('.', '\\.')}"`))
  }
})

t.test('stop: a server that exited but was not reaped (a zombie) has stopped', async t => {
  // `exec sleep` replaces the shell with a process that never reaps its child
  const shell = spawn('/bin/sh', ['-c', `"${process.execPath}" -e 'console.log(process.pid); setInterval(() => {}, 1000)' & exec sleep 600`], { stdio: ['ignore', 'pipe', 'inherit'], env: {} })
  killOnExit(shell)
  t.teardown(() => { shell.kill('SIGKILL') })
  const [data] = await once(shell.stdout!, 'data')
  const pid = Number(String(data).trim())
  const pidFile = join(dir, 'zombie.pid')
  writeServing(pidFile, pid, 1)
  const started = Date.now()
  const r = await run('stop', '--pid-file', pidFile, '--timeout', '20000')
  t.equal(r.code, EXIT.ok, r.err)
  t.match(r.out, new RegExp(`^stopped: ${pid} in \\d+ ms\\n$`))
  t.ok(Date.now() - started < 15_000, 'well before the timeout')
  t.match(readFileSync(`/proc/${pid}/stat`, 'utf8'), /\) Z /, 'the process is a zombie indeed')
})

t.test('a pid file that cannot be opened (a symlink loop): exit 3 with the errno', async t => {
  const loop = join(dir, 'loop.pid')
  symlinkSync(loop, loop)
  const r = await run('stop', '--pid-file', loop)
  t.equal(r.code, EXIT.noServer)
  t.match(r.err, /cannot read the pid file .*loop\.pid \(ELOOP\): check its permissions/)
})

t.test('a status file naming a reload signal that cannot be sent: exit 3', async t => {
  const v = await victim(t)
  const status = JSON.parse(readFileSync(statusPath(v.pidFile), 'utf8'))
  writeFileSync(statusPath(v.pidFile), JSON.stringify({ ...status, signal: 'SIGKILL' }))
  const r = await run('reload', '--pid-file', v.pidFile)
  t.equal(r.code, EXIT.noServer)
  t.match(r.err, /names "SIGKILL" as the reload signal: not a signal to send; pass --signal/)
  t.ok(v.alive())
})

t.test('the successor wrote its status file and not its pid file: reload says so, stop reaches it', async t => {
  const next = await victim(t)
  // a server that, on the reload signal, hands over to `next`: its status file, then exits
  const child = spawn(process.execPath, ['-e', `process.on("SIGUSR2", () => { require("node:fs").copyFileSync(${JSON.stringify(statusPath(next.pidFile))}, ${JSON.stringify(statusPath(join(dir, 'handing.pid')))}); process.exit(0) }); console.log("up"); setInterval(() => {}, 1000)`], { stdio: ['ignore', 'pipe', 'inherit'], env: {} })
  killOnExit(child)
  t.teardown(() => { child.kill('SIGKILL') })
  await once(child.stdout!, 'data')
  const pidFile = join(dir, 'handing.pid')
  writeServing(pidFile, child.pid!, 1)
  const r = await run('reload', '--pid-file', pidFile, '--timeout', '20000')
  t.equal(r.code, EXIT.ok, r.err)
  t.match(r.out, new RegExp(`^reloaded: ${child.pid} -> ${next.pid} \\(generation 1\\) in \\d+ ms\\n$`))
  t.match(r.err, /^warning: the pid file .*handing\.pid still names \d+: the new generation could not write it/)
  const s = await run('stop', '--pid-file', pidFile, '--timeout', '20000')
  t.equal(s.code, EXIT.ok, s.err)
  t.match(s.err, new RegExp(`^warning: the pid file .*handing\\.pid names ${child.pid}, which has exited; its successor ${next.pid} could not write it`))
  t.match(s.out, new RegExp(`^stopped: ${next.pid} in \\d+ ms\\n$`))
})

t.test('stale files in every shape: exit 3; a status without a start time; a status file gone while waiting', async t => {
  const gone = spawn(process.execPath, ['-e', ''], { env: {} })
  await once(gone, 'exit')
  const other = spawn(process.execPath, ['-e', ''], { env: {} })
  await once(other, 'exit')
  // no status file at all
  const bare = join(dir, 'bare.pid')
  writeFileSync(bare, `${gone.pid}\n`)
  t.match((await run('stop', '--pid-file', bare)).err, new RegExp(`stale pid file .*bare\\.pid: no process ${gone.pid} is running`))
  // a status file that names another process that has exited too
  writeServing(bare, other.pid!, 1)
  writeFileSync(bare, `${gone.pid}\n`)
  t.match((await run('stop', '--pid-file', bare)).err, /stale pid file/)

  const v = await victim(t)
  const status = JSON.parse(readFileSync(statusPath(v.pidFile), 'utf8'))
  delete status.start
  writeFileSync(statusPath(v.pidFile), JSON.stringify(status))
  const r = await run('stop', '--pid-file', v.pidFile)
  t.equal(r.code, EXIT.noServer)
  t.match(r.err, /the server at tick \(not recorded\)/)
  t.ok(v.alive())

  // a server that removes its status file and exits on the reload signal
  const quitter = spawn(process.execPath, ['-e', `process.on("SIGUSR2", () => { require("node:fs").rmSync(${JSON.stringify(statusPath(join(dir, 'quit.pid')))}); process.exit(0) }); console.log("up"); setInterval(() => {}, 1000)`], { stdio: ['ignore', 'pipe', 'inherit'], env: {} })
  killOnExit(quitter)
  await once(quitter.stdout!, 'data')
  writeServing(join(dir, 'quit.pid'), quitter.pid!, 1)
  const q = await run('reload', '--pid-file', join(dir, 'quit.pid'), '--timeout', '20000')
  t.equal(q.code, EXIT.failed)
  t.match(q.err, /the server \(pid \d+\) exited during the reload/)
})
