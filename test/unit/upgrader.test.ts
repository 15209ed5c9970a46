// The state machine's corners, in-process with a fake process seam (no successor is spawned).
import { mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { resolveOptions } from '../../lib/options'
import { readStatus } from '../../lib/pid-file'
import { Upgrader, type Logger } from '../../lib/upgrader'
import { tempDir } from '../helpers/app'

function logger (): Logger & { lines: Array<{ level: string, obj: Record<string, unknown>, msg: string }> } {
  const lines: Array<{ level: string, obj: Record<string, unknown>, msg: string }> = []
  const at = (level: string) => (obj: object, msg: string) => { lines.push({ level, obj: obj as Record<string, unknown>, msg }) }
  return { lines, info: at('info'), warn: at('warn'), error: at('error') }
}

const seam = (platform: NodeJS.Platform = 'linux') => ({ exits: [] as number[], platform, exit (code: number) { this.exits.push(code) } })

t.test('on Windows: no signal handler; upgrade() rejects with NOT_SUPPORTED', async t => {
  const before = process.listenerCount('SIGUSR2')
  const upgrader = new Upgrader(resolveOptions({}), logger(), seam('win32'))
  t.equal(process.listenerCount('SIGUSR2'), before)
  await t.rejects(upgrader.upgrade(), { code: 'FST_HOT_RESTART_NOT_SUPPORTED', message: /upgrade\(\) is not supported on Windows/ })
  await upgrader.shutdown()
  t.equal(upgrader.state, 'closed')
  upgrader.dispose()
})

t.test('refusals: not ready, shutting down; the pid file and status; a failing close is logged', async t => {
  const dir = tempDir('fhr-up-')
  const pidFile = join(dir, 'app.pid')
  const log = logger()
  const upgrader = new Upgrader(resolveOptions({ pidFile }), log, seam())
  t.equal(process.listenerCount('SIGUSR2') > 0, true, 'the reload signal is handled')
  t.equal(upgrader.generation, 1)
  t.equal(upgrader.predecessor, undefined)
  await t.rejects(upgrader.upgrade(), { code: 'FST_HOT_RESTART_NOT_READY' })
  t.match(log.lines.at(-1), { level: 'warn', obj: { code: 'FST_HOT_RESTART_NOT_READY' } })

  const failing = upgrader.addParticipant({ name: 'failing', close: async () => { throw new Error('close failed') } })
  const other = upgrader.addParticipant({ name: 'other', close: async () => {} })
  failing.listening()
  t.equal(upgrader.state, 'booting', 'ready only once every app listens')
  other.remove()
  other.listening() // a removed app does not count
  t.equal(upgrader.state, 'booting')
  const third = upgrader.addParticipant({ name: 'third', close: async () => {} })
  third.listening()
  t.equal(upgrader.state, 'serving')
  t.equal(readFileSync(pidFile, 'utf8'), `${process.pid}\n`, 'the pid file is written once ready')
  t.match(readStatus(pidFile), { pid: process.pid, generation: 1, attempt: 0 })

  const off = upgrader.atExit(() => {})
  off()
  const shutdown = upgrader.shutdown()
  t.equal(upgrader.shutdown(), shutdown, 'one shutdown')
  await t.rejects(upgrader.upgrade(), { code: 'FST_HOT_RESTART_SHUTTING_DOWN' })
  await shutdown
  t.match(log.lines.find(l => l.obj.event === 'app.close-failed'), { obj: { app: 'failing' } })
  t.throws(() => readFileSync(pidFile), 'the pid file is removed at shutdown')
  t.equal(readStatus(pidFile), undefined)
})

t.test('a pid file that cannot be written once ready is logged, the app serves on', async t => {
  const dir = tempDir('fhr-up-')
  const sub = join(dir, 'sub')
  mkdirSync(sub)
  const log = logger()
  const upgrader = new Upgrader(resolveOptions({ pidFile: join(sub, 'app.pid') }), log, seam())
  t.teardown(() => upgrader.dispose())
  rmSync(sub, { recursive: true })
  upgrader.addParticipant({ name: 'app', close: async () => {} }).listening()
  t.equal(upgrader.state, 'serving')
  t.match(log.lines.find(l => l.obj.event === 'pid-file.failed'), { level: 'error' })
})

t.test('the working directory handed to successors is the one the user named (PWD) when it is the real one', async t => {
  const saved = process.env.PWD
  t.teardown(() => { process.env.PWD = saved })
  const cwdOf = (u: Upgrader): string => (u.mode as unknown as { cwd: string }).cwd
  for (const [pwd, expected] of [['/nonexistent/dir', process.cwd()], [undefined, process.cwd()], ['/', process.cwd() === '/' ? '/' : process.cwd()], [process.cwd(), process.cwd()]] as const) {
    if (pwd === undefined) delete process.env.PWD
    else process.env.PWD = pwd
    const upgrader = new Upgrader(resolveOptions({}), logger(), seam())
    t.equal(cwdOf(upgrader), expected, String(pwd))
    upgrader.dispose()
  }
})
