// Starts the CLI's `run` (the supervisor) as a real process around a fixture app and follows
// every process's JSON log lines (the generations inherit the supervisor's stdout).
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { join, resolve } from 'node:path'
import { fixture, killLogged, killOnExit, tempDir } from './app'
import { followLogs, on, type LogLine } from './log-lines'

/** The CLI, compiled with the fixtures (see `fixture()`). */
export const cli = resolve(__dirname, '..', '..', '.build', 'lib', 'cli.js')

export interface Supervised {
  /** The supervisor's process. */
  proc: ChildProcess
  dir: string
  pidFile: string
  atExitFile: string
  lines: LogLine[]
  /** Resolves with the first line (already seen, or after `from`, or to come) that matches. */
  waitFor (match: (line: LogLine) => boolean, what?: string, from?: number, timeout?: number): Promise<LogLine>
  /** Resolves with the supervisor's exit code once every process has closed stdout. */
  ended: Promise<number | null>
  /** SIGKILL to the supervisor and every process that logged a line. */
  kill (): void
}

export interface StartOptions {
  env?: Record<string, string>
  /** The supervisor's options, before `--`. */
  args?: string[]
  /** The app's command; the fixture app by default. */
  command?: string[]
  /** Wait until the supervisor serves (default true). */
  serving?: boolean
  /** Give the supervisor --pid-file (default true). */
  pidFile?: boolean
  /**
   * Run the supervisor as PID 1 of a new PID namespace (`unshare --pid --fork --kill-child`), as
   * in a container. `proc` is then unshare; the pids in the logs are the namespace's.
   */
  pid1?: boolean
}

export async function startSupervisor ({ env = {}, args = [], command, serving = true, pidFile: withPidFile = true, pid1 = false }: StartOptions = {}): Promise<Supervised> {
  const dir = tempDir('fhr-sup-')
  const pidFile = join(dir, 'supervisor.pid')
  const atExitFile = join(dir, 'at-exit.log')
  const app = command ?? [process.execPath, fixture('app.ts')]
  const argv = [process.execPath, cli, 'run', ...(withPidFile ? ['--pid-file', pidFile] : []), ...args, '--', ...app]
  const [file, ...rest] = pid1 ? ['unshare', '--pid', '--fork', '--kill-child', ...argv] : argv
  const proc = spawn(file as string, rest, {
    env: { ...process.env, AT_EXIT_FILE: atExitFile, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  killOnExit(proc)
  // warnings and errors are logged to stderr: both streams are followed
  const { lines, waitFor, closed } = followLogs([proc.stdout!, proc.stderr!], text => process.stderr.write(`${text}\n`))
  const exit = once(proc, 'exit').then(([code]) => code as number | null)
  const ended = Promise.all([exit, closed]).then(([code]) => code)
  const supervised: Supervised = {
    proc,
    dir,
    pidFile,
    atExitFile,
    lines,
    waitFor,
    ended,
    kill () {
      // in a namespace, the logged pids are not the host's: killing unshare kills them all
      if (pid1) proc.kill('SIGKILL')
      else killLogged(lines, [proc.pid])
    }
  }
  killOnExit(() => supervised.kill())
  if (serving) await waitFor(on('supervisor.serving'), 'the supervisor to serve')
  return supervised
}

/** The port the first generation listens on. */
export async function portOf (s: Supervised): Promise<number> {
  const line = await s.waitFor(l => typeof l.msg === 'string' && l.msg.startsWith('Server listening at '), 'the listening line')
  return Number(/:(\d+)$/.exec(line.msg as string)![1])
}

/** The pid of the generation that serves now (per the supervisor's logs). */
export function servingPid (s: Supervised): number {
  return s.lines.findLast(l => typeof l.servingPid === 'number')!.servingPid as number
}

/** Resolves once the generation `pid` has been told that its predecessor has exited. */
export function predecessorGone (s: Supervised, pid: number): Promise<LogLine> {
  return s.waitFor(on('predecessor.exited', { pid }), `generation ${pid}'s predecessor to exit`)
}
