// Who can take the port or start an upgrade, and what the library leaves on disk.
// - No SO_REUSEPORT: another process of the same user cannot bind the port while any
//   generation is alive (the first, both during a drain, the successor alone).
// - The pid file and its status file are 0644 whatever the umask: nothing world-writable.
// - A signal from another user cannot start an upgrade (the kernel refuses it).
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { chownSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { predecessorGone, reload, startApp } from '../helpers/app'
import { request } from '../helpers/http'

/** Runs a snippet of JavaScript in a new process; resolves with what it printed. */
async function run (code: string): Promise<string> {
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout!.on('data', d => { out += d })
  await once(child, 'exit')
  return out.trim()
}

/** What another process gets when it tries to listen on `host:port`: `listening` or the error code. */
function bindFromAnotherProcess (host: string, port: number): Promise<string> {
  return run(`require('node:net').createServer().listen(${port}, '${host}')
    .on('listening', function () { console.log('listening'); this.close() })
    .on('error', err => console.log(err.code))`)
}

t.test('another process cannot bind the port while any generation is alive', async t => {
  const app = await startApp()
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  t.equal(await bindFromAnotherProcess('127.0.0.1', app.port), 'EADDRINUSE', 'generation 1: the same address')
  t.equal(await bindFromAnotherProcess('0.0.0.0', app.port), 'EADDRINUSE', 'generation 1: the wildcard address')

  const held = request(app.port, '/hold?ms=5000')
  const { successorPid } = await reload(app, pid)
  t.equal(await bindFromAnotherProcess('127.0.0.1', app.port), 'EADDRINUSE', 'during the drain (two generations)')
  t.equal(app.proc.exitCode, null, 'the predecessor was still draining')
  t.equal((await held).body.pid, pid)

  await predecessorGone(app, successorPid)
  t.equal(await bindFromAnotherProcess('127.0.0.1', app.port), 'EADDRINUSE', 'the successor alone')
  t.equal((await request(app.port, '/')).body.pid, successorPid, 'and the successor serves')
  await app.stop(successorPid)
  t.equal(await bindFromAnotherProcess('127.0.0.1', app.port), 'listening', 'the port is free once the last generation is gone')
})

t.test('the pid file and the status file are 0644 even under umask 0; nothing the library writes is world-writable', async t => {
  const umask = process.umask(0)
  let app
  try {
    app = await startApp()
  } finally {
    process.umask(umask)
  }
  t.teardown(() => app.kill())
  const { successorPid } = await reload(app, app.proc.pid!)
  await predecessorGone(app, successorPid)
  for (const file of [app.pidFile, `${app.pidFile}.status`]) {
    t.equal(statSync(file).mode & 0o777, 0o644, `${file} is 0644`)
  }
  // the fixture's own atExit log is the app's file, not the library's
  const written = readdirSync(app.dir).filter(f => f !== 'at-exit.log')
  t.same(written.sort(), ['app.pid', 'app.pid.status'], 'no temporary file is left')
  for (const file of written) t.equal(statSync(join(app.dir, file)).mode & 0o002, 0, `${file} is not world-writable`)
  await app.stop(successorPid)
})

const notRoot = process.getuid?.() !== 0 && 'needs root, to run a process as another user'
t.test('a reload signal from another user is refused by the kernel; nothing starts', { skip: notRoot }, async t => {
  const app = await startApp()
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  // a shell, not node: tap instruments every node process it sees, and could not write its files as another user
  const child = spawn('/bin/sh', ['-c', `kill -USR2 ${pid} 2>&1 || echo refused`], { uid: 65534, gid: 65534, cwd: '/', stdio: ['ignore', 'pipe', 'ignore'] })
  let out = ''
  child.stdout!.on('data', d => { out += d })
  t.equal((await once(child, 'exit'))[0], 0)
  t.match(out, /not permitted[\s\S]*refused/i, 'the kernel refuses the signal')
  // a reload we are allowed to send is the next thing the app logs about upgrades
  const { successorPid } = await reload(app, pid)
  t.equal(app.lines.filter(l => l.event === 'upgrade.started').length, 1, 'only our own signal started an upgrade')
  await predecessorGone(app, successorPid)
  await app.stop(successorPid)
})

t.test('a FIFO planted where the status file goes: a reload signal never freezes the server', async t => {
  const app = await startApp({ READY_TIMEOUT: '20000' })
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const status = `${app.pidFile}.status`
  rmSync(status)
  execFileSync('mkfifo', ['-m', '0666', status])
  if (process.getuid?.() === 0) chownSync(status, 65534, 65534) // another user's, as in a shared /tmp
  const from = app.lines.length
  process.kill(pid, 'SIGUSR2')
  // a frozen server answers nothing: give it 10 s
  const answered = await Promise.race([
    request(app.port, '/').then(r => r.status),
    new Promise(resolve => setTimeout(() => resolve('no answer within 10 s'), 10_000).unref())
  ])
  t.equal(answered, 200, 'the server answers')
  const refused = await app.waitFor(l => l.msg === 'hot-restart: could not write the status file' && l.pid === pid, 'the refusal', from)
  t.match(refused.err, { code: 'FST_HOT_RESTART_UNSAFE_FILE', message: /app\.pid\.status.*is a FIFO, not a regular file/ })
  // the successor refuses the pid file at register time: the reload fails and changes nothing
  const failed = await app.waitFor(l => String(l.msg).startsWith('hot-restart: upgrade failed') && l.pid === pid, 'the reload to fail', from)
  t.match(failed, { code: 'FST_HOT_RESTART_SUCCESSOR_EXITED', details: { firstError: /FST_HOT_RESTART_PID_FILE.*its status file .*app\.pid\.status exists and is a FIFO, not a regular file/ } })
  t.equal((await request(app.port, '/')).body.pid, pid, 'and the server still serves')
  t.ok(statSync(status).isFIFO(), 'the FIFO is left where it is')
  await app.stop(pid)
})
