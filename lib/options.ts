/**
 * The options shared by the Fastify plugin and the node:http adapter, their defaults and
 * their validation. Validation throws `FST_HOT_RESTART_INVALID_OPTION` naming the option,
 * what was expected and what was given.
 */
import { constants } from 'node:os'
import { InvalidOptionError } from './errors'

/** Options of the Fastify plugin and of the node:http adapter. */
export interface HotRestartOptions {
  /** The signal that starts an upgrade. Never `SIGUSR1` (Node's inspector). @default 'SIGUSR2' */
  signal?: NodeJS.Signals
  /** Where each generation writes its pid once it is ready (atomically). @default undefined (none) */
  pidFile?: string
  /** How long a successor has to become ready before it is killed. @default 60000 (ms) */
  readyTimeout?: number
  /** How long the predecessor waits for in-flight requests before it closes them. @default 30000 (ms) */
  drainTimeout?: number
  /**
   * How long all `atExit` hooks together may take; then, as long again, the closing of the apps
   * (`fastify.close()` and its onClose hooks), after which the process exits anyway. @default 10000 (ms)
   */
  atExitTimeout?: number
  /**
   * Once the drain starts, how long a kept-alive connection may stay idle before the
   * predecessor closes it. Until then the client's next request is answered with
   * `Connection: close`; closing an idle connection races a request its client may be sending
   * at that moment, so a longer grace means fewer such resets, and a drain that can last longer
   * (never past `drainTimeout`). 0 closes idle connections at once.
   * @default 5000 (ms)
   */
  idleGrace?: number
  /**
   * The window over which the drain spreads the closing of the connections that cannot move to
   * the successor (TLS, fall-backs of the hand-over, every connection with
   * `connectionHandover: false`, HTTP/2 sessions), like HAProxy's `close-spread-time`: each
   * connection gets its own moment, drawn uniformly from the window; until then it is served as
   * usual (keep-alive), from then on its next response says `Connection: close`, and it is
   * closed once idle for `idleGrace` (an HTTP/2 session gets its GOAWAY then). Their clients then reconnect over the window instead of all at once.
   * 0 closes them all at the start of the drain. No longer than `drainTimeout`.
   * @default 1000 (ms), or `drainTimeout` if that is shorter
   */
  closeSpread?: number
  /**
   * Once the successor is ready, hand each HTTP/1.1 connection (plain TCP or unix socket) to it
   * at a request boundary instead of answering `Connection: close` and closing it when idle: its
   * client's next request is answered by the successor on the same connection. Connections
   * that cannot move (TLS, HTTP/2, WebSocket) are drained as before. Standalone mode only (under
   * `fastify-hot-restart run` connections are drained).
   * @default true
   */
  connectionHandover?: boolean
  /**
   * Graceful SIGTERM/SIGINT through close-with-grace (the reload signal is skipped):
   * `true`, `false`, or close-with-grace options (`delay`, `skip`, ...).
   * @default true
   */
  closeWithGrace?: boolean | { delay?: number | false | null, skip?: string[], [key: string]: unknown }
  /**
   * A route that answers 200 while this process serves, and 503 before it is ready and once it
   * drains or shuts down: point a readiness probe or a load balancer's health check at it.
   * @default undefined (none)
   */
  readinessUrl?: string
  /**
   * On a shutdown signal (SIGTERM, SIGINT; under `fastify-hot-restart run`, the supervisor's
   * stop), how long the process keeps accepting and serving before it drains: the readiness
   * route answers 503 at once (and `stopping` turns true) and every HTTP/1 response says
   * `Connection: close`, while load balancers remove the endpoint (Kubernetes does so some
   * seconds after SIGTERM). 0 drains at once.
   * @default 0 (ms)
   */
  stopDelay?: number
  /**
   * Boots each successor at a lower CPU priority: its nice value is this process's plus this
   * much (at most 19) from its spawn until it is ready, then this process's again, so that its
   * boot takes less CPU from the process that still serves. Raising it back needs root,
   * CAP_SYS_NICE or RLIMIT_NICE (systemd `LimitNICE=`); without that right the successor boots
   * at normal priority (a `successor-nice.unavailable` warning). Under `fastify-hot-restart
   * run`, the serving generation's value applies to the workers of the next one.
   * @default 0 (off)
   */
  successorNice?: number
}

/** The options once defaults are applied. */
export interface ResolvedOptions {
  signal: NodeJS.Signals
  pidFile: string | undefined
  readyTimeout: number
  drainTimeout: number
  atExitTimeout: number
  idleGrace: number
  closeSpread: number
  connectionHandover: boolean
  closeWithGrace: false | { delay?: number | false | null, skip?: string[], [key: string]: unknown }
  readinessUrl: string | undefined
  stopDelay: number
  successorNice: number
}

export const defaults = {
  signal: 'SIGUSR2',
  readyTimeout: 60_000,
  drainTimeout: 30_000,
  atExitTimeout: 10_000,
  idleGrace: 5_000,
  closeSpread: 1_000,
  stopDelay: 0,
  successorNice: 0
} as const

// Signals that cannot be caught, that Node keeps for itself, or that mean a crash.
const forbiddenSignals = new Set(['SIGKILL', 'SIGSTOP', 'SIGUSR1', 'SIGSEGV', 'SIGBUS', 'SIGFPE', 'SIGILL', 'SIGABRT', 'SIGTRAP', 'SIGPROF', 'SIGVTALRM'])
const knownOptions = new Set(['signal', 'pidFile', 'readyTimeout', 'drainTimeout', 'atExitTimeout', 'idleGrace', 'closeSpread', 'connectionHandover', 'closeWithGrace', 'readinessUrl', 'stopDelay', 'successorNice'])
// setTimeout cannot wait longer than this
const MAX_TIMEOUT = 2 ** 31 - 1

/**
 * Checks the Fastify plugin's `warmup` option (see index.ts), which is the app's own, not the
 * process's: every app of a process has its own.
 * @throws FST_HOT_RESTART_INVALID_OPTION
 */
export function checkWarmup (warmup: unknown): void {
  if (warmup !== undefined && typeof warmup !== 'function') throw invalid('warmup', 'a function (app) => Promise<void>', warmup)
}

/** Describes a value for an error message: `"5s"` (string), `-1` (number), `null`. */
export function describe (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return `${JSON.stringify(value)} (array)`
  if (typeof value === 'function') return `a function (${value.name || 'anonymous'})`
  if (typeof value === 'bigint') return `${value}n (bigint)`
  if (typeof value === 'symbol') return `${String(value)} (symbol)`
  if (typeof value === 'object') {
    try {
      return `${JSON.stringify(value)} (object)`
    } catch {
      return 'an object'
    }
  }
  return `\`${JSON.stringify(value) ?? String(value)}\` (${typeof value})`
}

function invalid (name: string, expected: string, value: unknown): Error {
  return new InvalidOptionError(`Expected \`${name}\` to be ${expected}, got ${describe(value)}`)
}

function timeout (options: Record<string, unknown>, name: 'readyTimeout' | 'drainTimeout' | 'atExitTimeout' | 'idleGrace' | 'closeSpread' | 'stopDelay', min = 1): number {
  const value = options[name]
  if (value === undefined) return defaults[name]
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_TIMEOUT) {
    const expected = min === 0 ? 'a non-negative integer number of milliseconds' : 'a positive integer number of milliseconds'
    throw invalid(name, `${expected} no larger than ${MAX_TIMEOUT}`, value)
  }
  return value
}

/**
 * Checks the options and applies the defaults.
 * @throws FST_HOT_RESTART_INVALID_OPTION
 */
export function resolveOptions (options: unknown): ResolvedOptions {
  if (options === undefined || options === null) options = {}
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw invalid('options', 'an object', options)
  }
  const opts = options as Record<string, unknown>
  for (const key of Object.keys(opts)) {
    // Fastify passes its own register options (prefix, logLevel...) along with ours.
    if (!knownOptions.has(key) && !fastifyRegisterOptions.has(key)) {
      throw new InvalidOptionError(`Unknown option \`${key}\`; known options are ${[...knownOptions].join(', ')}`)
    }
  }

  const signal = opts.signal ?? defaults.signal
  if (typeof signal !== 'string' || !(signal in constants.signals) || forbiddenSignals.has(signal)) {
    throw invalid('signal', 'a catchable signal name such as "SIGUSR2" or "SIGHUP" (not SIGUSR1, SIGKILL or SIGSTOP)', opts.signal)
  }

  const pidFile = opts.pidFile
  if (pidFile !== undefined && (typeof pidFile !== 'string' || pidFile.length === 0 || pidFile.includes('\0'))) {
    throw invalid('pidFile', 'a non-empty file path', pidFile)
  }

  const readinessUrl = opts.readinessUrl
  if (readinessUrl !== undefined && (typeof readinessUrl !== 'string' || !/^\/[^\s?#]*$/.test(readinessUrl))) {
    throw invalid('readinessUrl', 'a path such as "/ready" (starting with a slash, no query)', readinessUrl)
  }

  const connectionHandover = opts.connectionHandover ?? true
  if (typeof connectionHandover !== 'boolean') throw invalid('connectionHandover', 'a boolean', opts.connectionHandover)

  const successorNice = opts.successorNice ?? defaults.successorNice
  if (typeof successorNice !== 'number' || !Number.isInteger(successorNice) || successorNice < 0 || successorNice > 19) {
    throw invalid('successorNice', 'an integer from 0 (off) to 19 (nice values)', opts.successorNice)
  }

  let closeWithGrace: ResolvedOptions['closeWithGrace'] = false
  const cwg = opts.closeWithGrace ?? true
  if (cwg === true) {
    closeWithGrace = {}
  } else if (cwg !== false) {
    if (typeof cwg !== 'object' || Array.isArray(cwg)) {
      throw invalid('closeWithGrace', 'a boolean or an object of close-with-grace options', opts.closeWithGrace)
    }
    const delay = (cwg as Record<string, unknown>).delay
    if (delay !== undefined && delay !== null && delay !== false && (typeof delay !== 'number' || !Number.isInteger(delay) || delay <= 0)) {
      throw invalid('closeWithGrace.delay', 'a positive integer number of milliseconds, or false', delay)
    }
    const skip = (cwg as Record<string, unknown>).skip
    if (skip !== undefined && (!Array.isArray(skip) || !skip.every(s => typeof s === 'string'))) {
      throw invalid('closeWithGrace.skip', 'an array of event names', skip)
    }
    closeWithGrace = cwg as ResolvedOptions['closeWithGrace']
  }

  const drainTimeout = timeout(opts, 'drainTimeout')
  // the spread happens inside the drain: a window past its deadline would be cut by force
  const closeSpread = opts.closeSpread === undefined ? Math.min(defaults.closeSpread, drainTimeout) : timeout(opts, 'closeSpread', 0)
  if (closeSpread > drainTimeout) {
    throw invalid('closeSpread', `no longer than \`drainTimeout\` (${drainTimeout} ms)`, closeSpread)
  }

  return {
    signal: signal as NodeJS.Signals,
    pidFile: pidFile as string | undefined,
    readyTimeout: timeout(opts, 'readyTimeout'),
    drainTimeout,
    atExitTimeout: timeout(opts, 'atExitTimeout'),
    idleGrace: timeout(opts, 'idleGrace', 0),
    closeSpread,
    connectionHandover,
    closeWithGrace,
    readinessUrl: readinessUrl as string | undefined,
    stopDelay: timeout(opts, 'stopDelay', 0),
    successorNice
  }
}

const fastifyRegisterOptions = new Set(['prefix', 'logLevel', 'logSerializers'])

/**
 * The options that an app gave and that differ from the ones in force: every app of a
 * process shares one upgrader, whose options are the first app's.
 * @param given the app's options as it passed them (already checked by resolveOptions)
 * @returns the names of the options that do not apply
 */
export function ignoredOptions (inForce: ResolvedOptions, given: object): string[] {
  const resolved = resolveOptions(given)
  // readinessUrl is each app's own route, never ignored
  return Object.keys(given).filter(key => knownOptions.has(key) && key !== 'readinessUrl' &&
    JSON.stringify(resolved[key as keyof ResolvedOptions]) !== JSON.stringify(inForce[key as keyof ResolvedOptions]))
}
