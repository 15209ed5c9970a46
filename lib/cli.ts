#!/usr/bin/env node
/**
 * The CLI: `fastify-hot-restart reload` sends the reload signal to the process named by a pid
 * file and waits for the outcome; `stop` sends SIGTERM and waits for the exit; `run` starts an
 * app under a supervisor (run.ts).
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs'
import { constants } from 'node:os'
import { dirname, join } from 'node:path'
import { parseOptions } from './args'
import { parseStatus, readPid, STATUS_FILE_LIMIT, statusPath, type AttemptStatus, type Status } from './pid-file'
import { isRunning } from './process-info'
import { reloadProgress } from './progress'
import { run, RUN_HELP } from './run'
import { readSmallFile } from './safe-file'
import { status as statusCommand, STATUS_DESCRIPTION, STATUS_HELP } from './status'
import { findServer, NoServerError, successorOf, type Target } from './target'

/** Exit codes. */
export const EXIT = { ok: 0, failed: 1, usage: 2, noServer: 3, timeout: 4 } as const

// run.ts's help: its usage lines, then what it does
const RUN_USAGE = RUN_HELP.slice(0, RUN_HELP.indexOf('\n\nrun ') + 1)
const RUN_DESCRIPTION = RUN_HELP.slice(RUN_USAGE.length + 1)

const HELP = `Usage:
  fastify-hot-restart reload --pid-file <path> [--timeout <ms>] [--signal <name>]
  fastify-hot-restart stop   --pid-file <path> [--timeout <ms>]
${STATUS_HELP}${RUN_USAGE}  fastify-hot-restart --version

reload  Sends the reload signal (default SIGUSR2) to the process in the pid file and waits
        until a new generation is ready, or the upgrade failed. On a terminal, it shows
        the successor booting, then the old generation draining until it has exited.
stop    Sends SIGTERM and waits until the process has exited.
${STATUS_DESCRIPTION}${RUN_DESCRIPTION}
Options:
  --pid-file <path>  the pid file the server was given (option pidFile)
  --timeout <ms>     how long to wait, 1 to 2147483647 (default 70000 for reload, 45000 for stop)
  --signal <name>    the server's reload signal (default: the one the server records in its
                     status file, its option signal; else SIGUSR2)
  -h, --help         this text (\`run --help\`, \`status --help\`: that command's)
  -v, --version      the version of fastify-hot-restart

Exit codes:
  0  done
  1  the reload failed (the successor failed, the upgrade was refused, or the server exited)
  2  bad arguments
  3  no usable server: missing or unreadable pid file, stale pid file (no such process), a
     process that is not a fastify-hot-restart server, or files the CLI does not trust (not a
     regular file, writable by others, owned by another user, naming a reused pid)
  4  timed out waiting
`

/** After a usage error: the commands' lines, not the whole help. */
const USAGE = `${HELP.slice(0, HELP.indexOf('\nreload  '))}\n\`fastify-hot-restart --help\` says more.\n`

export interface Io {
  out: { write (s: string): unknown }
  /** On a terminal (isTTY), reload shows its progress there. */
  err: { write (s: string): unknown, isTTY?: boolean }
}

class Exit extends Error {
  constructor (readonly code: number, message: string) { super(message) }
}

/** The largest delay a timer takes (2^31 - 1 ms, about 24.8 days); a larger one fires at once. */
const MAX_TIMEOUT = 2_147_483_647

/** Finds the server (see target.ts); a refusal exits 3 with its reason. */
function serverPid (pidFile: string, io: Io): Target {
  try {
    const target = findServer(pidFile)
    if (target.note !== undefined) io.err.write(`warning: ${target.note}\n`)
    return target
  } catch (err) {
    /* c8 ignore next */
    if (!(err instanceof NoServerError)) throw err
    throw new Exit(EXIT.noServer, err.message)
  }
}

/** The status file while waiting: undefined when it cannot be read (it is being replaced). */
function statusNow (pidFile: string): Status | undefined {
  try {
    return parseStatus(readSmallFile(statusPath(pidFile), STATUS_FILE_LIMIT).text)
  } catch {
    return undefined
  }
}

/**
 * The first attempt after `before` that was made after `sent`: an earlier attempt whose record
 * reached the disk late (a write that failed then) is not the outcome of this signal.
 */
function attemptAfter (status: Status, before: number, sent: number): AttemptStatus | undefined {
  for (let key = before + 1; key <= status.attempt; key++) {
    const attempt = status.attempts[key]
    /* c8 ignore next: a record without `at` comes from a server of an earlier version */
    if (attempt !== undefined && (attempt.at ?? sent) >= sent) return attempt
  }
  return undefined
}

/** Sends `signal` to `pid`; a process of another user is not ours to signal. */
function signalServer (pid: number, signal: NodeJS.Signals, pidFile: string): void {
  /* c8 ignore start: the tests run as root, who may signal anyone */
  try {
    process.kill(pid, signal)
  } catch (err) {
    throw new Exit(EXIT.noServer, `process ${pid} (from ${pidFile}) cannot be signalled (${(err as NodeJS.ErrnoException).code}): run this as the server's user.`)
  }
  /* c8 ignore stop */
}

/**
 * Resolves when `check` returns a value; checks on every change in `folder` and every 100 ms
 * (only the latter when no watcher can be had: no inotify instance left).
 */
function waitUntil<T> (folder: string, timeout: number, check: () => T | undefined): Promise<T | undefined> {
  return new Promise(resolve => {
    const finish = (value: T | undefined): void => {
      clearInterval(poll)
      clearTimeout(timer)
      watcher?.close()
      resolve(value)
    }
    const tick = (): void => {
      const value = check()
      if (value !== undefined) finish(value)
    }
    let watcher: FSWatcher | undefined
    try {
      watcher = watch(folder, tick)
      /* c8 ignore next: a watcher that fails later (its folder removed): polling goes on */
      watcher.on('error', () => { watcher?.close() })
    } catch {}
    const poll = setInterval(tick, 100)
    const timer = setTimeout(() => finish(undefined), timeout)
    tick()
  })
}

async function reload (pidFile: string, timeout: number, signal: string | undefined, io: Io): Promise<number> {
  const { pid, status: { attempt: before, signal: recorded, servingPids } } = serverPid(pidFile, io)
  const reloadSignal = signal ?? recorded ?? 'SIGUSR2'
  if (!validSignal(reloadSignal)) throw new Exit(EXIT.noServer, `the status file of ${pidFile} names "${reloadSignal}" as the reload signal: not a signal to send; pass --signal`)
  const started = performance.now()
  const sent = Date.now()
  const progress = reloadProgress(io.err, pid, reloadSignal, started)
  signalServer(pid, reloadSignal as NodeJS.Signals, pidFile)
  const ms = (): number => Math.round(performance.now() - started)
  const notWritten = (): string => `warning: the pid file ${pidFile} still names ${pid}: the new generation could not write it (its log says why); reload and stop find it through ${statusPath(pidFile)}\n`
  const outcome = await waitUntil(dirname(pidFile), timeout, () => {
    const now = readPid(pidFile)
    if (typeof now === 'number' && now !== pid) {
      // a new generation writes its status file before its pid file
      const generation = statusNow(pidFile)?.generation
      return { code: EXIT.ok, text: `reloaded: ${pid} -> ${now} (generation ${generation}) in ${ms()} ms\n` }
    }
    const status = statusNow(pidFile)
    const attempt = status?.pid === pid ? attemptAfter(status, before, sent) : undefined
    // a supervisor (`run`) keeps its pid: it records the new generation instead
    if (attempt?.state === 'succeeded') {
      return { code: EXIT.ok, text: `reloaded: generation ${attempt.generation} (pid ${attempt.successorPid}) under supervisor ${pid} in ${ms()} ms\n` }
    }
    // the successor is ready (it writes its files before it says so), and wrote no pid file
    if (attempt?.state === 'handed-over') {
      return { code: EXIT.ok, text: `reloaded: ${pid} -> ${attempt.successorPid} (generation ${attempt.generation}) in ${ms()} ms\n`, warning: notWritten() }
    }
    if (attempt !== undefined && (attempt.state === 'failed' || attempt.state === 'refused')) {
      return { code: EXIT.failed, text: `reload failed: ${attempt.message} (${attempt.code})\n` }
    }
    if (!isRunning(pid)) {
      // the successor wrote its status file and not its pid file
      const successor = status === undefined ? undefined : successorOf(pid, status)
      if (successor !== undefined && status?.pid === successor.pid) {
        return { code: EXIT.ok, text: `reloaded: ${pid} -> ${successor.pid} (generation ${status.generation}) in ${ms()} ms\n`, warning: notWritten() }
      }
      return { code: EXIT.failed, text: `reload failed: the server (pid ${pid}) exited during the reload\n` }
    }
    progress.tick(attempt)
    return undefined
  })
  progress.clear()
  if (outcome === undefined) {
    io.err.write(`timed out after ${timeout} ms waiting for the reload of ${pid}: the server's logs say what it is doing\n`)
    return EXIT.timeout
  }
  ;(outcome.code === EXIT.ok ? io.out : io.err).write(outcome.text)
  if (outcome.warning !== undefined) io.err.write(outcome.warning)
  // on a terminal, the old generation's drain too (under a supervisor: its serving workers then)
  if (outcome.code === EXIT.ok) await progress.drained(servingPids ?? [pid], started + timeout)
  return outcome.code
}

async function stop (pidFile: string, timeout: number, io: Io): Promise<number> {
  const { pid } = serverPid(pidFile, io)
  const started = performance.now()
  signalServer(pid, 'SIGTERM', pidFile)
  // a zombie has exited: where nothing reaps it, it stays in the process table
  const gone = await waitUntil(dirname(pidFile), timeout, () => isRunning(pid) ? undefined : true)
  if (gone === undefined) {
    io.err.write(`timed out after ${timeout} ms waiting for ${pid} to exit\n`)
    return EXIT.timeout
  }
  io.out.write(`stopped: ${pid} in ${Math.round(performance.now() - started)} ms\n`)
  return EXIT.ok
}

/** A signal the CLI may send as a reload signal. */
function validSignal (signal: string): boolean {
  return signal in constants.signals && signal !== 'SIGKILL' && signal !== 'SIGSTOP'
}

/** This package's version, from its package.json (beside dist/ and lib/). */
export function version (): string {
  return (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version
}

/**
 * Runs the CLI.
 * @returns the exit code
 */
export async function main (argv: string[], io: Io = { out: process.stdout, err: process.stderr }): Promise<number> {
  if (argv[0] === 'run') return run(argv.slice(1), io)
  if (argv[0] === 'status') return statusCommand(argv.slice(1), io)
  let values: { 'pid-file'?: string, timeout?: string, signal?: string, help?: boolean, version?: boolean }
  let positionals: string[]
  try {
    ({ values, positionals } = parseOptions(argv[0] === 'reload' || argv[0] === 'stop' ? argv[0] : 'fastify-hot-restart', argv, {
      'pid-file': { type: 'string', value: '<path>' },
      timeout: { type: 'string', value: '<ms>' },
      signal: { type: 'string', value: '<name>' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' }
    }, true) as { values: typeof values, positionals: string[] })
  } catch (err) {
    io.err.write(`${(err as Error).message}\n\n${USAGE}`)
    return EXIT.usage
  }
  const [command, ...extra] = positionals
  if (values.version === true) {
    io.out.write(`${version()}\n`)
    return EXIT.ok
  }
  if (values.help === true || command === 'help') {
    io.out.write(HELP)
    return EXIT.ok
  }
  const usage = (why: string): number => {
    io.err.write(`${why}\n\n${USAGE}`)
    return EXIT.usage
  }
  if (command !== 'reload' && command !== 'stop') return usage(command === undefined ? 'missing command: reload, stop or run' : `unknown command "${command}"`)
  if (extra.length > 0) return usage(`unexpected argument "${extra[0]}"`)
  const pidFile = values['pid-file']
  if (pidFile === undefined || pidFile === '') return usage('missing --pid-file <path>')
  const timeout = values.timeout === undefined ? (command === 'reload' ? 70_000 : 45_000) : Number(values.timeout)
  if (!/^[0-9]+$/.test(values.timeout ?? '1') || !Number.isSafeInteger(timeout) || timeout < 1 || timeout > MAX_TIMEOUT) {
    return usage(`--timeout expects a whole number of milliseconds from 1 to ${MAX_TIMEOUT}, got "${values.timeout}"`)
  }
  const signal = values.signal
  if (command === 'stop' && signal !== undefined) return usage('--signal goes with reload only')
  if (signal !== undefined && !validSignal(signal)) return usage(`--signal expects a signal name such as SIGUSR2, got "${signal}"`)
  try {
    return command === 'reload'
      ? await reload(pidFile, timeout, signal, io)
      : await stop(pidFile, timeout, io)
  } catch (err) {
    /* c8 ignore next */
    if (!(err instanceof Exit)) throw err
    io.err.write(`${err.message}\n`)
    return err.code
  }
}

/* c8 ignore next 3 */
if (require.main === module) {
  main(process.argv.slice(2)).then(code => { process.exitCode = code })
}
