/**
 * The protocol between processes, in one place: what a generation, its successor and the
 * supervisor say to each other over the IPC channel, the environment variables that start it,
 * and the sockets described in the manifest (one entry per kind).
 *
 * Every message is an object with a `hotRestart` field naming its type; anything without one
 * is the app's own and never ours. A message that names a type but has the wrong shape is
 * logged and dropped by its receiver (`readGenerationMessage`, `readSupervisorMessage`): it
 * is never trusted, whoever sent it (the app's own code can `process.send()` too).
 *
 * | from -> to                      | message              | meaning |
 * | ------------------------------- | -------------------- | ------- |
 * | successor -> predecessor/supervisor | `ready` (pid, successorNice) | booted: every app listens, onListen hooks ran (the supervisor lowers its next workers' priority by successorNice while they boot) |
 * | successor -> predecessor/supervisor | `error` (message) | why the boot failed (the first line is shown) |
 * | generation -> supervisor        | `socket` (entry) + handle | a copy of a socket it serves; only before `ready` |
 * | generation -> supervisor        | `upgrade` (id)       | run a reload (its signal or `upgrade()`), answer `upgraded` |
 * | supervisor -> generation        | `upgraded` (id, result or error) | the outcome of that reload |
 * | supervisor -> generation        | `drain` (successorPid, generation, signalToReadyMs, relayCredits) | the next generation is ready: drain and exit (relayCredits: it answers `relayed`) |
 * | supervisor -> generation        | `shutdown` (stopDelay when it stops) | drain and exit (the supervisor stops, or the generation failed) |
 * | supervisor -> generation        | `predecessor` (pid)  | the generation this one replaces, while it drains |
 * | supervisor -> generation        | `predecessor-exited` | no predecessor is left |
 * | predecessor -> successor, generation -> supervisor -> generation | `connection` (socket, credit) + handle | a kept-alive connection handed over (see handover.ts) |
 * | supervisor -> generation        | `relayed`            | a connection sent with `credit` has been passed on (or dropped): the next may come (via-supervisor.ts) |
 * | spare -> supervisor             | `standing-by` (pid)  | a hot standby's spare has booted; every listen() waits for `go` (spare.ts) |
 * | supervisor -> spare             | `go`                 | take over: listen on the inherited sockets, then say `ready` (standby.ts) |
 */
import type { NativeHandle } from './node-internals'

/** The environment variable that carries the manifest (see manifest.ts). */
export const MANIFEST_ENV = 'FASTIFY_HOT_RESTART'
/** The environment variable that names the supervisor's pid (see supervised.ts). */
export const SUPERVISOR_ENV = 'FASTIFY_HOT_RESTART_SUPERVISOR'
/** Set ('1') for a hot standby's spare, which boots but waits for `go` before it listens (see spare.ts). */
export const STANDBY_ENV = 'FASTIFY_HOT_RESTART_STANDBY'

/** What a successful upgrade resolves with. */
export interface UpgradeResult {
  /** The successor's pid. */
  pid: number
  /** The successor's generation. */
  generation: number
  /** From the start of the upgrade to the successor's "ready" (ms). */
  readyMs: number
}

/** What the successor's code asked for when it listened; used to match its own listen calls. */
export interface ListenRequest {
  /** The host as given to `listen()` (`''` when none was given). */
  host: string
  /** The port as given to `listen()` (0 for any). */
  port: number
  /** The unix socket path as given to `listen()`, if any. */
  path?: string
}

interface EntryBase {
  /** The fd in the successor. */
  fd: number
  /** The name it was opened under (`socket(name, ...)`); only a socket of that name claims it. */
  name?: string
  /** What the code asked for. */
  requested: ListenRequest
}

/** A TCP socket a net.Server listens on, bound to `address`:`port`. */
export interface TcpEntry extends EntryBase { kind: 'tcp', address: string, port: number, path?: undefined }
/** A UDP socket (dgram, opened by name), bound to `address`:`port`. */
export interface UdpEntry extends EntryBase { kind: 'udp', address: string, port: number, path?: undefined }
/** A unix socket a net.Server listens on, bound to `path`. */
export interface UnixEntry extends EntryBase { kind: 'unix', path: string, address?: undefined, port?: undefined }
/** One handed-over socket, per kind. */
export type SocketEntry = TcpEntry | UdpEntry | UnixEntry

/** `127.0.0.1:3000`, `[::1]:3000` or a unix socket path. */
export function describeEntry (entry: SocketEntry): string {
  if (entry.kind === 'unix') return entry.path
  return entry.address.includes(':') ? `[${entry.address}]:${entry.port}` : `${entry.address}:${entry.port}`
}

/** A socket handle held by the supervisor (a libuv TCP, Pipe or UDP handle; it never accepts there). */
export interface Held { entry: SocketEntry, handle: NativeHandle }

/** What the supervisor tells a generation it drains for. */
export interface DrainOrder {
  successorPid: number
  generation: number
  signalToReadyMs: number
  /**
   * The supervisor answers `relayed` for each connection sent with `credit` (via-supervisor.ts).
   * Absent from an older supervisor, which a generation of newer code may run under.
   */
  relayCredits?: boolean
}

/**
 * A kept-alive connection handed over: its handle travels with the message, `socket` names the
 * listening socket that accepted it (`describeEntry`), which the receiver serves too.
 */
export interface ConnectionMessage {
  hotRestart: 'connection'
  socket: string
  /** To the supervisor: answer `relayed` once it has passed this one on (or dropped it). */
  credit?: true
}

/** Whether `m` is a connection message of the right shape. */
export function isConnectionMessage (m: unknown): m is ConnectionMessage {
  const c = m as Partial<ConnectionMessage> | null
  return typeof c === 'object' && c !== null && c.hotRestart === 'connection' && typeof c.socket === 'string' && c.socket !== '' && (c.credit === undefined || c.credit === true)
}

/** Messages from a generation to the process that started it (its predecessor or the supervisor). */
export type GenerationMessage =
  | { hotRestart: 'ready', pid?: number, successorNice?: number }
  | { hotRestart: 'error', message: string }
  | { hotRestart: 'socket', entry: SocketEntry }
  | { hotRestart: 'upgrade', id: number }
  | { hotRestart: 'standing-by', pid?: number }
  | ConnectionMessage

/** Messages from the supervisor to a generation. */
export type SupervisorMessage =
  | ({ hotRestart: 'drain' } & DrainOrder)
  | { hotRestart: 'shutdown', stopDelay?: number }
  | { hotRestart: 'predecessor', pid: number }
  | { hotRestart: 'predecessor-exited' }
  | { hotRestart: 'go' }
  | { hotRestart: 'relayed' }
  | ConnectionMessage
  | { hotRestart: 'upgraded', id: number, result?: UpgradeResult, error?: { code?: string, message: string } }

/** A message read: ours and well formed, ours and refused (with why), or not ours at all. */
export type Reading<M> = { message: M } | { rejected: string } | undefined

type Fields = Record<string, unknown>

const isInt = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min
const isObject = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * Checks the shape of a socket entry (not its fd: see manifest.ts for that).
 * @returns why it is refused, or undefined when it is well formed
 */
export function checkSocketEntry (entry: unknown): string | undefined {
  if (!isObject(entry)) return 'the entry is not an object'
  if (!isInt(entry.fd, 0)) return `"fd" is not an integer (got ${JSON.stringify(entry.fd)})`
  const req = entry.requested
  if (!isObject(req) || typeof req.host !== 'string' || !isInt(req.port, 0) || (req.path !== undefined && typeof req.path !== 'string')) {
    return 'missing or malformed "requested"'
  }
  if (entry.name !== undefined && (typeof entry.name !== 'string' || entry.name.length === 0)) return '"name" is not a non-empty string'
  if (entry.kind === 'tcp' || entry.kind === 'udp') {
    return typeof entry.address === 'string' && isInt(entry.port, 1) ? undefined : `a ${entry.kind} socket needs "address" and "port"`
  }
  if (entry.kind === 'unix') return typeof entry.path === 'string' && entry.path.length > 0 ? undefined : 'a unix socket needs "path"'
  return `unknown kind ${JSON.stringify(entry.kind)} (expected "tcp", "unix" or "udp")`
}

const NO_SOCKET = '"socket" is not the address of a listening socket'

/** Whether `raw` is one of ours: an object with a string `hotRestart` field. */
function ours (raw: unknown): raw is Fields & { hotRestart: string } {
  return isObject(raw) && typeof raw.hotRestart === 'string'
}

function checkUpgradeResult (result: unknown): boolean {
  return isObject(result) && isInt(result.pid, 1) && isInt(result.generation, 1) && isInt(result.readyMs, 0)
}

/** Reads a message a generation sent (to its predecessor or to the supervisor). */
export function readGenerationMessage (raw: unknown): Reading<GenerationMessage> {
  if (!ours(raw)) return undefined
  const m = raw
  let why: string | undefined
  switch (m.hotRestart) {
    // the pid is informational (the receiver knows its child's): it may be left out
    case 'ready':
      if (m.pid !== undefined && !isInt(m.pid, 1)) why = '"pid" is not a pid'
      else if (m.successorNice !== undefined && !(isInt(m.successorNice, 0) && m.successorNice <= 19)) why = '"successorNice" is not an integer from 0 to 19'
      break
    case 'standing-by': why = m.pid === undefined || isInt(m.pid, 1) ? undefined : '"pid" is not a pid'; break
    case 'error': why = typeof m.message === 'string' ? undefined : '"message" is not a string'; break
    case 'socket': why = checkSocketEntry(m.entry); break
    case 'upgrade': why = isInt(m.id, 1) ? undefined : '"id" is not a positive integer'; break
    case 'connection': why = isConnectionMessage(m) ? undefined : typeof m.socket === 'string' && m.socket !== '' ? '"credit" is not true' : NO_SOCKET; break
    default: why = 'unknown type'
  }
  return why === undefined ? { message: m as unknown as GenerationMessage } : { rejected: `${JSON.stringify(m.hotRestart)}: ${why}` }
}

/** Reads a message the supervisor sent to a generation. */
export function readSupervisorMessage (raw: unknown): Reading<SupervisorMessage> {
  if (!ours(raw)) return undefined
  const m = raw
  let why: string | undefined
  switch (m.hotRestart) {
    case 'drain':
      why = isInt(m.successorPid, 1) && isInt(m.generation, 1) && isInt(m.signalToReadyMs, 0) ? undefined : 'needs "successorPid", "generation" and "signalToReadyMs"'
      if (why === undefined && m.relayCredits !== undefined && typeof m.relayCredits !== 'boolean') why = '"relayCredits" is not a boolean'
      break
    case 'shutdown': why = m.stopDelay === undefined || isInt(m.stopDelay, 0) ? undefined : '"stopDelay" is not a non-negative integer'; break
    case 'predecessor-exited': case 'go': case 'relayed': break
    case 'predecessor': why = isInt(m.pid, 1) ? undefined : '"pid" is not a pid'; break
    case 'connection': why = isConnectionMessage(m) ? undefined : typeof m.socket === 'string' && m.socket !== '' ? '"credit" is not true' : NO_SOCKET; break
    case 'upgraded': {
      const error = m.error
      const failed = isObject(error) && typeof error.message === 'string' && (error.code === undefined || typeof error.code === 'string')
      if (!isInt(m.id, 1)) why = '"id" is not a positive integer'
      else if (!(error === undefined ? checkUpgradeResult(m.result) : failed)) why = 'needs a "result" or an "error"'
      break
    }
    default: why = 'unknown type'
  }
  return why === undefined ? { message: m as unknown as SupervisorMessage } : { rejected: `${JSON.stringify(m.hotRestart)}: ${why}` }
}
