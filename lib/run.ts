/**
 * `fastify-hot-restart run [options] -- <command> [args...]` (or `run app.js [args...]`): parse,
 * start the supervisor (supervisor.ts), wire its signals, and resolve with its exit code.
 * SIGHUP and SIGUSR2 reload; SIGTERM and SIGINT stop gracefully, a second one forces.
 */
import { closeSync, existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseOptions } from './args'
import { checkPidFile } from './pid-file'
import { initialCwd } from './cwd'
import { jsonLogger, type Logger } from './log'
import { bindListen, parseListen } from './listen'
import type { ListenRequest } from './manifest'
import { describeEntry } from './protocol'
import { takeActivatedSockets } from './socket-activation'
import { unlinkEntry } from './socket-kinds'
import { Supervisor, type Held } from './supervisor'
import { reloadOnChange } from './watch'

export const RUN_HELP = `  fastify-hot-restart run [--pid-file <path>] [--ready-timeout <ms>] [--max-restarts <n>]
                         [--workers <n> [--rolling]] [--listen <address>]... [--stop-delay <ms>]
                         [--watch <path>]... [--watch-ignore <name|path>]... [--env-file <path>]
                         [--standby]
                         -- <command> [args...]
  fastify-hot-restart run [options] app.js [args...]

run     Starts the app under a supervisor with a stable pid, which keeps a copy of the app's
        listening sockets: SIGHUP or SIGUSR2 (or \`reload --pid-file\`) starts the next
        generation on them and drains the serving one; a generation that crashes is
        restarted on the same sockets; SIGTERM or SIGINT stops everything gracefully (a
        second one kills). --pid-file names the supervisor's pid file (for reload and stop);
        --ready-timeout (default 60000) bounds each generation's boot; --max-restarts
        (default 10) crashes within a minute before the supervisor gives up (exit 1);
        --workers (default 1) processes of the app per generation, on the same sockets
        (--rolling: a reload replaces them one at a time, at most N + 1 processes);
        --listen (repeatable) binds PORT, HOST:PORT or a unix socket path in the supervisor
        before the app starts: the app must listen on the same address; so are the TCP
        sockets that systemd passes (socket activation: LISTEN_FDS) taken. --stop-delay
        (default 0): on SIGTERM or SIGINT, each generation serves on for that long (its
        readiness route answers 503, each response says Connection: close), then drains.
        --watch (repeatable; development) reloads when a file under the path changes
        (debounced; node_modules, .git and --watch-ignore are skipped); a change that
        does not boot leaves the serving generation serving and logs why.
        --env-file: NAME=value lines (Node's --env-file syntax), read again for each
        generation (start, reload, crash restart) and laid over the supervisor's environment
        for its workers; a file that cannot be read or parsed fails that reload
        (FST_HOT_RESTART_ENV_FILE, with the line) and the serving generation serves on.
        --standby keeps one booted spare of the app that does not accept (at a low CPU
        priority): when a serving process crashes, the spare listens within milliseconds and
        the next spare boots; a reload replaces it with one of the new code.
`

/** More processes per generation than this is a typo, not a deployment. */
const MAX_WORKERS = 256

/** The CLI's exit codes that `run` uses (see cli.ts): done, failed, bad arguments. */
const OK = 0
const FAILED = 1
const USAGE = 2

export interface RunIo {
  /** Where `run --help` goes (stdout when absent). */
  out?: { write (s: string): unknown }
  err: { write (s: string): unknown }
}

/** `run`'s options that take no value. */
const FLAGS = new Set(['--rolling', '--standby', '--help', '-h'])

/** Splits `run`'s arguments into its own options and the app's command. */
export function splitCommand (argv: string[]): { options: string[], command: string[] } {
  const options: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string
    if (token === '--') return { options, command: argv.slice(i + 1) }
    if (!token.startsWith('-')) return { options, command: argv.slice(i) }
    options.push(token)
    // `--name value` (not `--name=value`): the value is the option's
    if (!token.includes('=') && !FLAGS.has(token) && i + 1 < argv.length) options.push(argv[++i] as string)
  }
  return { options, command: [] }
}

function positiveInt (name: string, value: string | undefined, fallback: number, min: number, max = 2 ** 31 - 1): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} expects an integer from ${min} to ${max}, got "${value}"`)
  return n
}

/**
 * Runs the supervisor until it stops.
 * @returns the exit code: 0 after a graceful stop, 1 if generation 1 failed to start, the
 * supervisor gave up after too many crashes, or a second signal forced the stop; 2 for bad
 * arguments
 */
export async function run (argv: string[], io: RunIo, log: Logger = jsonLogger): Promise<number> {
  let pidFile: string | undefined
  let readyTimeout: number
  let maxRestarts: number
  let workers: number
  let stopDelay: number
  let watchPaths: string[]
  let watchIgnore: string[]
  let envFile: string | undefined
  let rolling: boolean
  let standby: boolean
  let requests: ListenRequest[]
  let command: string[]
  try {
    const split = splitCommand(argv)
    command = split.command
    const { values } = parseOptions('run', split.options, {
      'pid-file': { type: 'string', value: '<path>' },
      'ready-timeout': { type: 'string', value: '<ms>' },
      'max-restarts': { type: 'string', value: '<n>' },
      workers: { type: 'string', value: '<n>' },
      listen: { type: 'string', multiple: true, value: '<address>' },
      'stop-delay': { type: 'string', value: '<ms>' },
      watch: { type: 'string', multiple: true, value: '<path>' },
      'watch-ignore': { type: 'string', multiple: true, value: '<name|path>' },
      'env-file': { type: 'string', value: '<path>' },
      rolling: { type: 'boolean' },
      standby: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' }
    }) as { values: { 'pid-file'?: string, 'ready-timeout'?: string, 'max-restarts'?: string, workers?: string, listen?: string[], 'stop-delay'?: string, watch?: string[], 'watch-ignore'?: string[], 'env-file'?: string, rolling?: boolean, standby?: boolean, help?: boolean } }
    if (values.help === true) {
      (io.out ?? process.stdout).write(`Usage:\n${RUN_HELP}`)
      return OK
    }
    if (command.length === 0) throw new Error('missing the command to run: `run -- node app.js` or `run app.js`')
    if (values['pid-file'] !== undefined) pidFile = checkPidFile(values['pid-file'])
    readyTimeout = positiveInt('ready-timeout', values['ready-timeout'], 60_000, 1)
    maxRestarts = positiveInt('max-restarts', values['max-restarts'], 10, 0)
    workers = positiveInt('workers', values.workers, 1, 1, MAX_WORKERS)
    stopDelay = positiveInt('stop-delay', values['stop-delay'], 0, 0)
    requests = (values.listen ?? []).map(parseListen)
    watchPaths = values.watch ?? []
    watchIgnore = values['watch-ignore'] ?? []
    envFile = values['env-file']
    rolling = values.rolling === true
    if (rolling && workers < 2) throw new Error('--rolling goes with --workers <n> of 2 or more (one worker is replaced as in any reload)')
    standby = values.standby === true
    if (watchIgnore.length > 0 && watchPaths.length === 0) throw new Error('--watch-ignore goes with --watch <path>')
    for (const path of watchPaths) if (!existsSync(path)) throw new Error(`--watch ${path}: no such file or folder`)
  } catch (err) {
    io.err.write(`${(err as Error).message}\n\nUsage:\n${RUN_HELP}`)
    return USAGE
  }
  // `run app.js`: a script is run with this node
  if (/\.[cm]?[jt]s$/.test(command[0] as string)) command = [process.execPath, ...command]
  const [file, ...args] = command as [string, ...string[]]
  const listening: Held[] = []
  try {
    // systemd socket activation: its sockets are held as if --listen had bound them
    for (const { entry, name } of takeActivatedSockets()) {
      listening.push({ entry, handle: { fd: entry.fd, close: () => closeSync(entry.fd) } })
      log.info({ event: 'supervisor.activated', address: describeEntry(entry), fd: entry.fd, name }, 'hot-restart supervisor: took a socket from systemd (socket activation)')
    }
    for (const request of requests) {
      listening.push(bindListen(request))
      log.info({ event: 'supervisor.bound', address: describeEntry(listening.at(-1)!.entry) }, 'hot-restart supervisor: bound (--listen)')
    }
  } catch (err) {
    for (const { entry, handle } of listening) {
      handle.close()
      // a unix socket bound under a temporary name and renamed: closing it leaves the path
      unlinkEntry(entry)
    }
    log.error({ event: 'supervisor.bind-failed', err }, `hot-restart supervisor: ${(err as Error).message}`)
    return FAILED
  }
  const cwd = initialCwd()
  // relative to the folder as named (PWD): a `current -> releases/N` swap changes the file read too
  if (envFile !== undefined) envFile = resolve(cwd, envFile)
  const supervisor = new Supervisor({ command: file, args, cwd, pidFile, readyTimeout, maxRestarts, workers, listening, stopDelay, envFile, rolling, standby, log })

  const reload = (signal: NodeJS.Signals): void => {
    supervisor.reload(signal).catch(() => { /* logged and recorded by reload() */ })
  }
  let signalled = false
  const stop = (signal: NodeJS.Signals): void => {
    if (signalled) {
      supervisor.force()
      return
    }
    signalled = true
    log.info({ event: 'supervisor.signal', signal }, 'hot-restart supervisor: shutting down (a second signal kills)')
    supervisor.stop().catch(/* c8 ignore next */ () => {})
  }
  const handlers: Array<[NodeJS.Signals, (signal: NodeJS.Signals) => void]> = [
    ['SIGHUP', reload], ['SIGUSR2', reload], ['SIGTERM', stop], ['SIGINT', stop]
  ]
  for (const [signal, handler] of handlers) process.on(signal, handler)
  log.info({ event: 'supervisor.starting', pid: process.pid, command }, 'hot-restart supervisor: starting')
  let stopWatching = (): void => {}
  try {
    await supervisor.start()
    if (watchPaths.length > 0) stopWatching = reloadOnChange(supervisor, watchPaths, watchIgnore, log)
  } catch (err) {
    if (supervisor.state !== 'stopping') {
      log.error({ event: 'supervisor.start-failed', err }, `hot-restart supervisor: the first generation failed to start: ${(err as Error).message}`)
      await supervisor.stop(FAILED)
    }
  }
  const code = await supervisor.done
  stopWatching()
  for (const [signal, handler] of handlers) process.removeListener(signal, handler)
  return code === 0 ? OK : FAILED
}
