/**
 * The pid file and its status file. Each generation writes its pid once it is ready; the
 * status file beside it (`<pidFile>.status`) tells the CLI what became of each upgrade that
 * the serving process was asked for, so that a failure is known at once, not at a timeout, and
 * which signal reloads the server. Both are written atomically (a randomly named temporary
 * file in the same folder, then a rename) and read with care (see safe-file.ts): the folder may
 * be one that other users can write.
 */
import { accessSync, constants, lstatSync, rmSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { PidFileError, UnsafeFileError } from './errors'
import { processStart } from './process-info'
import { kindOf, ownedByUsOrRoot, readSmallFile, writeFileAtomic } from './safe-file'

export { writeFileAtomic } from './safe-file'

/** The most a pid file may hold: a pid and a newline, with room to spare. */
export const PID_FILE_LIMIT = 64
/** The most a status file may hold: ten attempts with their messages. */
export const STATUS_FILE_LIMIT = 65536

/** The outcome of one upgrade attempt, as the serving process records it. */
export interface AttemptStatus {
  /** `handed-over`: a standalone server's successor is ready (the predecessor drains). */
  state: 'upgrading' | 'succeeded' | 'handed-over' | 'failed' | 'refused'
  /** The error code, for failed and refused. */
  code?: string
  message?: string
  successorPid?: number
  /** The successor's start time (see processStart), recorded with `successorPid`. */
  successorStart?: string
  generation?: number
  /** When the record was made (Date.now()): the CLI follows the first attempt made after its signal. */
  at?: number
  /** When it started and ended (ms since the epoch), for `status`. */
  startedAt?: number
  endedAt?: number
  /** The process that ran it, in `history` (attempts of earlier generations). */
  pid?: number
}

/** What the status file holds: who serves and what became of its upgrades. */
export interface Status {
  pid: number
  generation: number
  /** The attempt counter; the CLI reads it before it signals and follows the next one. */
  attempt: number
  attempts: Record<string, AttemptStatus>
  /** The signal that reloads this server (its `signal` option); the CLI sends it by default. */
  signal?: string
  /** The start time of `pid` (see processStart): the CLI checks it before it signals `pid`. */
  start?: string
  /** When `pid` started serving (ms since the epoch). */
  since?: number
  /** Pids that were draining when this was written (the reader checks which still live). */
  draining?: number[]
  /** Under a supervisor: the pids of the serving generation's workers. */
  servingPids?: number[]
  /** Under a supervisor: its state. */
  state?: string
  /** The attempts of earlier generations, oldest first, each with the `pid` that ran it. */
  history?: AttemptStatus[]
}

const KEEP_ATTEMPTS = 10
/** The reload signal of each pid file this process serves, written into every status. */
const signals = new Map<string, string>()

/** The status file that belongs to a pid file. */
export function statusPath (pidFile: string): string {
  return `${pidFile}.status`
}

/**
 * Checks at register time that the pid file can be written: its folder exists, is a folder,
 * and is writable; and the pid file and its status file, if they exist, are regular files (not
 * a symlink, a FIFO, a folder: those are never replaced).
 * @returns the absolute path
 * @throws FST_HOT_RESTART_PID_FILE
 */
export function checkPidFile (pidFile: string): string {
  const path = resolve(pidFile)
  const dir = dirname(path)
  try {
    if (!statSync(dir).isDirectory()) throw new PidFileError(path, `${dir} is not a folder`)
    accessSync(dir, constants.W_OK)
  } catch (err) {
    if ((err as { code?: string }).code === 'FST_HOT_RESTART_PID_FILE') throw err
    const code = (err as NodeJS.ErrnoException).code
    throw new PidFileError(path, code === 'ENOENT' ? `the folder ${dir} does not exist` : `the folder ${dir} is not writable (${code})`)
  }
  for (const file of [path, statusPath(path)]) {
    try {
      const stats = lstatSync(file)
      if (!stats.isFile()) throw new PidFileError(path, `${file === path ? 'it' : `its status file ${file}`} exists and is ${kindOf(stats)}, not a regular file`)
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') throw err
    }
  }
  return path
}

/**
 * Writes the pid file and a fresh status file for a process that is now serving. A successor
 * names its `predecessor` (still draining): the predecessor's attempts are carried over as
 * `history`, the one that started this process marked succeeded.
 * @param signal the signal that reloads it, recorded in every status file written for this pid file
 */
export function writeServing (pidFile: string, pid: number, generation: number, signal?: string, predecessor?: number): void {
  if (signal !== undefined) signals.set(pidFile, signal)
  const previous = predecessor === undefined ? undefined : statusOrNothing(pidFile)
  const history = previous !== undefined && previous.pid === predecessor ? carried(previous, pid, generation) : []
  writeStatus(pidFile, { pid, generation, attempt: 0, attempts: {}, since: Date.now(), draining: predecessor === undefined ? [] : [predecessor], history })
  writeFileAtomic(pidFile, `${pid}\n`)
}

/** The status file, or undefined when it cannot be trusted: what it said is then not kept. */
function statusOrNothing (pidFile: string): Status | undefined {
  try {
    return readStatus(pidFile)
  } catch {
    return undefined
  }
}

function carried (previous: Status, pid: number, generation: number): AttemptStatus[] {
  const own = Object.keys(previous.attempts).map(Number).sort((a, b) => a - b).map(key => {
    const attempt = { ...previous.attempts[key], pid: previous.pid } as AttemptStatus
    return attempt.state === 'upgrading' || attempt.state === 'handed-over' ? { ...attempt, state: 'succeeded' as const, successorPid: pid, generation, endedAt: Date.now() } : attempt
  })
  return [...(previous.history ?? []), ...own].slice(-KEEP_ATTEMPTS)
}

/** The attempt record `next`, stamped with when the attempt started (and ended, unless upgrading). */
export function stamped (previous: AttemptStatus | undefined, next: AttemptStatus): AttemptStatus {
  const now = Date.now()
  return { startedAt: previous?.startedAt ?? now, ...previous, ...next, ...(next.state === 'upgrading' ? {} : { endedAt: now }) }
}

/**
 * Writes the status file, keeping the last few attempts, and what the last write for the same
 * pid said of its start, its predecessor and its history.
 */
export function writeStatus (pidFile: string, status: Status): void {
  const keys = Object.keys(status.attempts).map(Number).sort((a, b) => b - a)
  for (const key of keys.slice(KEEP_ATTEMPTS)) delete status.attempts[key]
  for (const attempt of Object.values(status.attempts)) {
    if (attempt.successorPid !== undefined) attempt.successorStart ??= processStart(attempt.successorPid)
  }
  const signal = signals.get(pidFile)
  // what the last write for the same pid said of its start, its predecessor and its history
  const kept = statusOrNothing(pidFile)
  const { since, draining, history } = kept?.pid === status.pid ? kept : {} as Partial<Status>
  writeFileAtomic(statusPath(pidFile), `${JSON.stringify({ since, draining, history, ...status, signal, start: processStart(status.pid) })}\n`)
}

/**
 * Reads a pid file: a regular file of a few bytes (a FIFO or a device is never opened to block).
 * @returns the pid, or an error code: 'missing', 'unreadable' (also for anything but a small
 * regular file), 'malformed'
 */
export function readPid (pidFile: string): number | 'missing' | 'unreadable' | 'malformed' {
  let text: string
  try {
    text = readSmallFile(pidFile, PID_FILE_LIMIT).text
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable'
  }
  return parsePid(text)
}

/** The pid a pid file's text names, or 'malformed'. */
export function parsePid (text: string): number | 'malformed' {
  const trimmed = text.trim()
  return /^[1-9][0-9]{0,9}$/.test(trimmed) ? Number(trimmed) : 'malformed'
}

/** The status in a status file's text, or undefined when it is not one. */
export function parseStatus (text: string): Status | undefined {
  try {
    const status = JSON.parse(text) as Status
    if (typeof status.pid === 'number' && typeof status.attempt === 'number' && typeof status.attempts === 'object' && status.attempts !== null) return status
  } catch {}
  return undefined
}

/**
 * Reads the status file, as the server does: it must be a small regular file of this process's
 * user or root.
 * @returns the status; undefined when it is missing or does not hold a status
 * @throws FST_HOT_RESTART_UNSAFE_FILE when it is anything else (never blocks on a FIFO)
 */
export function readStatus (pidFile: string): Status | undefined {
  const path = statusPath(pidFile)
  let file
  try {
    file = readSmallFile(path, STATUS_FILE_LIMIT)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  if (!ownedByUsOrRoot(file.stats)) throw new UnsafeFileError(path, `it is owned by uid ${file.stats.uid}, not by this process's user or root`)
  return parseStatus(file.text)
}

/** Removes the pid file and its status file if they still name `pid` (at final shutdown); never throws. */
export function removeIfOurs (pidFile: string, pid: number): void {
  if (readPid(pidFile) !== pid) return
  try {
    rmSync(statusPath(pidFile), { force: true })
    rmSync(pidFile, { force: true })
  } catch {}
}
