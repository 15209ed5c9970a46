// Starts a fixture app as a real process and follows every generation's JSON log lines
// (successors inherit the first generation's stdout, so one pipe carries them all).
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { followLogs, on, type LogLine } from './log-lines'

export type { LogLine } from './log-lines'

export interface RunningApp {
  /** The first generation's process. */
  proc: ChildProcess
  port: number
  /** The temp folder of this app (pid file, atExit file). */
  dir: string
  pidFile: string
  atExitFile: string
  lines: LogLine[]
  /** Resolves with the first line at index `from` or later (already seen or to come) that matches. */
  waitFor (match: (line: LogLine) => boolean, what?: string, from?: number, timeout?: number): Promise<LogLine>
  /** Resolves once every generation has closed stdout (all of them exited). */
  ended: Promise<void>
  /** SIGTERM to `pid`, then waits until every generation has exited. */
  stop (pid: number): Promise<void>
  /** SIGKILL to every process that logged a line (for teardown after a failure). */
  kill (): void
}

const root = resolve(__dirname, '..', '..')

/**
 * The path of a fixture program. A TypeScript fixture's is its JavaScript in .build/ (compiled
 * with source maps by test/helpers/build-fixtures.js, tap's `before` script): spawn it with plain
 * `node`, without `process.execArgv` (tap's TypeScript loader costs seconds per boot).
 */
export const fixture = (name: string): string => name.endsWith('.ts')
  ? join(root, '.build', 'test', 'fixtures', name.replace(/\.ts$/, '.js'))
  : join(root, 'test', 'fixtures', name)

// Every process a test starts dies with the test process, even when tap times the test out
// and its teardowns never run: a leftover successor would hold the runner's output pipe open.
// tap signals a timeout with SIGALRM, then kills the test process with SIGKILL (no 'exit').
// The temp folders go after them (removed last: a process may write there until it dies).
const killers = new Set<() => void>()
const folders = new Set<string>()
const killAll = (): void => {
  for (const kill of killers) kill()
  for (const dir of folders) rmSync(dir, { recursive: true, force: true })
}
process.once('exit', killAll)
process.once('SIGALRM', killAll)

/**
 * A new folder under the system's temp folder (short paths: a unix socket path has at most 107
 * bytes, too few for tap's `t.testdir()` under .tap/), removed when the test process exits.
 */
export function tempDir (prefix = 'fhr-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  folders.add(dir)
  return dir
}

/** Kills `pid` (SIGKILL) when the test process exits, if it is still alive then. */
export function killOnExit (target: ChildProcess | (() => void)): void {
  killers.add(typeof target === 'function' ? target : () => { if (target.exitCode === null && target.signalCode === null) target.kill('SIGKILL') })
}

/**
 * SIGKILL to `also` and to every process that `lines` name (as `pid`, `successorPid` or
 * `generationPid`): the teardown of a test that failed midway, whatever generation it reached.
 */
export function killLogged (lines: LogLine[], also: Array<number | undefined> = []): void {
  for (const pid of new Set([...also, ...lines.flatMap(l => [l.pid, l.successorPid, l.generationPid])])) {
    if (typeof pid === 'number') try { process.kill(pid, 'SIGKILL') } catch {}
  }
}

export async function startApp (env: Record<string, string> = {}, file = fixture('app.ts')): Promise<RunningApp> {
  const dir = tempDir()
  const pidFile = join(dir, 'app.pid')
  const atExitFile = join(dir, 'at-exit.log')
  const proc = spawn(process.execPath, [file], {
    env: { ...process.env, PID_FILE: pidFile, AT_EXIT_FILE: atExitFile, ...env },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  killOnExit(proc)
  const { lines, waitFor, closed: ended } = followLogs([proc.stdout!])
  const listening = await waitFor(l => typeof l.msg === 'string' && l.msg.startsWith('Server listening at '), 'listening')
  // NaN when the app listens on a unix socket
  const port = Number(/:(\d+)$/.exec(listening.msg as string)?.[1])
  await waitFor(on('ready', { pid: proc.pid }), 'ready')
  const app: RunningApp = {
    proc,
    port,
    dir,
    pidFile,
    atExitFile,
    lines,
    waitFor,
    ended,
    async stop (pid: number) {
      try { process.kill(pid, 'SIGTERM') } catch {}
      await ended
    },
    kill () { killLogged(lines) }
  }
  killOnExit(() => app.kill())
  return app
}

/**
 * Sends the reload signal to `pid`; resolves with the successor's pid once it is ready and `pid`
 * drains. The outcome is the one of the upgrade this signal started (same successor pid): a
 * previous attempt's outcome line can still arrive after the signal (pino writes asynchronously).
 * `timeout` (ms) bounds each wait: more than the default 30 s for a successor that boots slowly
 * on purpose (at a lower priority, on a loaded machine).
 */
export async function reload (app: RunningApp, pid: number, timeout?: number): Promise<{ successorPid: number, line: LogLine }> {
  const from = app.lines.length
  process.kill(pid, 'SIGUSR2')
  const started = await app.waitFor(l => app.lines.indexOf(l) >= from && l.pid === pid && l.event === 'upgrade.started', `pid ${pid} to start an upgrade`, from, timeout)
  const line = await app.waitFor(l => app.lines.indexOf(l) >= from && l.pid === pid && l.successorPid === started.successorPid &&
    (l.event === 'upgrade.ready' || l.event === 'upgrade.failed'), `pid ${pid} to hand over`, from, timeout)
  if (line.event !== 'upgrade.ready') throw new Error(`upgrade failed: ${line.msg}`)
  return { successorPid: line.successorPid as number, line }
}

/** Resolves once the generation `pid` learned that its predecessor has exited. */
export function predecessorGone (app: RunningApp, pid: number): Promise<LogLine> {
  return app.waitFor(on('predecessor.exited', { pid }), `pid ${pid}'s predecessor to exit`)
}
