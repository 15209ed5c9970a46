// `fastify-hot-restart run`: its arguments, a first generation that cannot start, and the
// supervisor's signals while a generation boots (a graceful stop; a second signal forces), and
// a supervisor killed outright (its generation shuts itself down).
import { once } from 'node:events'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { EXIT, main } from '../../lib/cli'
import { run, splitCommand } from '../../lib/run'
import type { Logger } from '../../lib/upgrader'
import { fixture, tempDir } from '../helpers/app'
import { servingPid, startSupervisor } from '../helpers/supervisor'
import { alive } from '../helpers/proc'

async function cli (...argv: string[]): Promise<{ code: number, err: string }> {
  let err = ''
  const code = await main(argv, { out: { write: () => {} }, err: { write: (s: string) => { err += s } } })
  return { code, err }
}

function logger (): Logger & { lines: Array<{ obj: Record<string, unknown>, msg: string }> } {
  const lines: Array<{ obj: Record<string, unknown>, msg: string }> = []
  const at = (obj: object, msg: string): void => { lines.push({ obj: obj as Record<string, unknown>, msg }) }
  return { lines, info: at, warn: at, error: at }
}

t.test('run: the command is what follows `--` or the first argument that is not an option', async t => {
  t.same(splitCommand(['--pid-file', 'p', '--', 'node', '--inspect', 'app.js']), { options: ['--pid-file', 'p'], command: ['node', '--inspect', 'app.js'] })
  t.same(splitCommand(['--ready-timeout=5', 'app.js', '--port', '3']), { options: ['--ready-timeout=5'], command: ['app.js', '--port', '3'] })
  t.same(splitCommand(['--pid-file']), { options: ['--pid-file'], command: [] })
})

t.test('run: bad arguments exit 2 and say why', async t => {
  const dir = tempDir('fhr-run-')
  const cases: Array<[string[], RegExp]> = [
    [['run'], /missing the command to run/],
    [['run', '--pid-file'], /--pid-file expects a value: --pid-file <path>/],
    [['run', '--bogus', 'x', '--', 'node'], /unknown option --bogus for "run": it takes --pid-file <path>/],
    [['run', '--ready-timeout', '0', '--', 'node'], /--ready-timeout expects an integer from 1 to 2147483647, got "0"/],
    [['run', '--ready-timeout=5s', 'app.js'], /--ready-timeout expects an integer from 1 to 2147483647, got "5s"/],
    [['run', '--max-restarts=-1', 'app.js'], /--max-restarts expects an integer from 0 to 2147483647, got "-1"/],
    [['run', '--pid-file', join(dir, 'none', 'x.pid'), 'app.js'], /cannot write the pid file .*the folder .* does not exist/]
  ]
  for (const [args, message] of cases) {
    const r = await cli(...args)
    t.equal(r.code, EXIT.usage, args.join(' '))
    t.match(r.err, message, args.join(' '))
    t.match(r.err, /Usage:\n {2}fastify-hot-restart run/)
  }
})

t.test('run: a first generation that cannot start: exit 1 with the reason', async t => {
  const log = logger()
  const code = await run(['--max-restarts', '0', join(tmpdir(), 'fhr-no-such-app.js')], { err: { write: () => {} } }, log)
  t.equal(code, EXIT.failed)
  t.match(log.lines.find(l => /first generation failed to start/.test(l.msg)), { msg: /exited with code 1 before it was ready/ })
  t.match(log.lines.at(-1), { msg: 'hot-restart supervisor: stopped', obj: { exitCode: 1 } })
})

t.test('run: a command that cannot be started, a first generation not ready in time: exit 1 with the reason', async t => {
  const log = logger()
  t.equal(await run(['--', '/nonexistent/bin'], { err: { write: () => {} } }, log), EXIT.failed)
  t.match(log.lines.find(l => /first generation failed to start/.test(l.msg)), { msg: /could not be started \(spawn \/nonexistent\/bin ENOENT\)/ })
  const slow = logger()
  t.equal(await run(['--ready-timeout', '200', '--', process.execPath, '-e', 'setInterval(() => {}, 1000)'], { err: { write: () => {} } }, slow), EXIT.failed)
  t.match(slow.lines.find(l => /first generation failed to start/.test(l.msg)), { msg: /was not ready within 200 ms and was killed/ })
})

// generation 1 logs a line, then never becomes ready
const hanging = (ignoreTerm: boolean): string[] => [process.execPath, '-e',
  `${ignoreTerm ? 'process.on("SIGTERM", () => {});' : ''} console.log(JSON.stringify({ msg: "up", pid: process.pid })); setInterval(() => {}, 1000)`]

t.test('SIGINT while generation 1 boots: it is stopped, the supervisor exits 0', async t => {
  const s = await startSupervisor({ command: hanging(false), serving: false, pidFile: false })
  t.teardown(() => s.kill())
  const up = await s.waitFor(l => l.msg === 'up', 'generation 1 to run')
  process.kill(s.proc.pid!, 'SIGHUP')
  await s.waitFor(l => l.code === 'FST_HOT_RESTART_NOT_READY', 'the reload to be refused')
  process.kill(s.proc.pid!, 'SIGINT')
  t.equal(await s.ended, 0)
  t.notOk(alive(up.pid), 'generation 1 is gone')
  t.ok(s.lines.some(l => l.event === 'supervisor.stopped' && l.exitCode === 0))
})

t.test('a second SIGTERM forces: every generation is killed, the supervisor exits 1', async t => {
  const s = await startSupervisor({ command: hanging(true), serving: false })
  t.teardown(() => s.kill())
  const up = await s.waitFor(l => l.msg === 'up', 'generation 1 to run')
  process.kill(s.proc.pid!, 'SIGTERM')
  await s.waitFor(l => l.event === 'supervisor.stopping', 'the graceful stop')
  process.kill(s.proc.pid!, 'SIGHUP')
  await s.waitFor(l => l.code === 'FST_HOT_RESTART_SHUTTING_DOWN', 'the reload to be refused')
  process.kill(s.proc.pid!, 'SIGTERM')
  t.equal(await s.ended, 1)
  t.notOk(alive(up.pid), 'generation 1 is gone')
  t.ok(s.lines.some(l => l.event === 'supervisor.forced'))
})

t.test('the supervisor is killed (SIGKILL): the serving generation shuts itself down', async t => {
  const s = await startSupervisor()
  t.teardown(() => s.kill())
  const gen1 = servingPid(s)
  process.kill(s.proc.pid!, 'SIGKILL')
  await s.waitFor(l => l.pid === gen1 && l.msg === 'hot-restart: the supervisor has exited; shutting down', 'the orphan to notice')
  await s.ended
  t.notOk(alive(gen1), 'no orphan')
  t.equal(readFileSync(s.atExitFile, 'utf8'), `${gen1}\n`, 'it ran its atExit hooks')
})

t.test('a crash on a unix socket: clients queue while the next generation boots; SIGTERM then stops it and removes the path', async t => {
  const path = join(tempDir('fhr-unix-'), 'app.sock')
  const s = await startSupervisor({ command: [process.execPath, fixture('bare-generation.js')], env: { UNIX_PATH: path } })
  t.teardown(() => s.kill())
  await s.waitFor(l => l.event === 'supervisor.crashed' && l.exitCode === 3, 'the crash')
  await s.waitFor(l => l.msg === 'restarted generation booting', 'the next generation to boot')
  // nobody accepts now, and yet the connection is not refused: it waits in the kernel's queue
  const socket = net.connect(path)
  t.teardown(() => socket.destroy())
  await once(socket, 'connect')
  socket.on('error', () => {}) // reset when the supervisor stops below: nobody ever accepted it
  t.ok(existsSync(path), 'the path is still there')
  process.kill(s.proc.pid!, 'SIGTERM')
  t.equal(await s.ended, 0)
  t.notOk(existsSync(path), 'the last stop removed the path')
})

t.test('a reload while a crashed generation restarts is refused with its own code', async t => {
  const bootFile = join(tempDir('fhr-boot-'), 'boot')
  const s = await startSupervisor({ env: { QUIET: '1', BOOT_FILE: bootFile } })
  t.teardown(() => s.kill())
  const gen1 = servingPid(s)
  // the restarted generation holds its boot until the file goes
  writeFileSync(bootFile, 'hold')
  process.kill(gen1, 'SIGKILL')
  const holding = await s.waitFor(l => l.msg === 'boot: holding', 'the restart to boot')
  const from = s.lines.length
  process.kill(s.proc.pid!, 'SIGHUP')
  const refused = await s.waitFor(l => l.event === 'supervisor.reload.refused', 'the reload to be refused', from)
  t.equal(refused.code, 'FST_HOT_RESTART_CRASH_RESTART', refused.msg as string)
  rmSync(bootFile)
  t.equal((await s.waitFor(l => l.event === 'supervisor.restarted', 'the restart')).servingPid, holding.pid)
  process.kill(s.proc.pid!, 'SIGTERM')
  t.equal(await s.ended, 0)
})
