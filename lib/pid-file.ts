/**
 * The pid file and its status file. Each generation writes its pid once it is ready; the
 * status file beside it (`<pidFile>.status`) tells the CLI what became of each upgrade that
 * the serving process was asked for, so that a failure is known at once, not at a timeout.
 * Both are written atomically: a temporary file in the same folder, then a rename.
 */
import { accessSync, constants, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { PidFileError } from './errors'

/** The outcome of one upgrade attempt, as the serving process records it. */
export interface AttemptStatus {
  state: 'upgrading' | 'succeeded' | 'failed' | 'refused'
  /** The error code, for failed and refused. */
  code?: string
  message?: string
  successorPid?: number
  generation?: number
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

/** The status file that belongs to a pid file. */
export function statusPath (pidFile: string): string {
  return `${pidFile}.status`
}

let tempCounter = 0

/** Writes `data` to `path` atomically (same-folder temporary file, then rename), mode 0644. */
export function writeFileAtomic (path: string, data: string): void {
  const temp = `${path}.${process.pid}.${++tempCounter}.tmp`
  try {
    writeFileSync(temp, data, { mode: 0o644 })
    renameSync(temp, path)
  } catch (err) {
    rmSync(temp, { force: true })
    throw err
  }
}

/**
 * Checks at register time that the pid file can be written: its folder exists, is a folder,
 * and is writable; and the pid file itself, if it exists, is a file.
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
  try {
    if (!statSync(path).isFile()) throw new PidFileError(path, 'it exists and is not a file')
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err
  }
  return path
}

/**
 * Writes the pid file and a fresh status file for a process that is now serving. A successor
 * names its `predecessor` (still draining): the predecessor's attempts are carried over as
 * `history`, the one that started this process marked succeeded.
 */
export function writeServing (pidFile: string, pid: number, generation: number, predecessor?: number): void {
  const previous = predecessor === undefined ? undefined : readStatus(pidFile)
  const history = previous !== undefined && previous.pid === predecessor ? carried(previous, pid, generation) : []
  writeStatus(pidFile, { pid, generation, attempt: 0, attempts: {}, since: Date.now(), draining: predecessor === undefined ? [] : [predecessor], history })
  writeFileAtomic(pidFile, `${pid}\n`)
}

function carried (previous: Status, pid: number, generation: number): AttemptStatus[] {
  const own = Object.keys(previous.attempts).map(Number).sort((a, b) => a - b).map(key => {
    const attempt = { ...previous.attempts[key], pid: previous.pid } as AttemptStatus
    return attempt.state === 'upgrading' ? { ...attempt, state: 'succeeded' as const, successorPid: pid, generation, endedAt: Date.now() } : attempt
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
  const kept = readStatus(pidFile)
  const { since, draining, history } = kept?.pid === status.pid ? kept : {} as Partial<Status>
  writeFileAtomic(statusPath(pidFile), `${JSON.stringify({ since, draining, history, ...status })}\n`)
}

/**
 * Reads a pid file.
 * @returns the pid, or an error code: 'missing', 'unreadable', 'malformed'
 */
export function readPid (pidFile: string): number | 'missing' | 'unreadable' | 'malformed' {
  let text: string
  try {
    text = readFileSync(pidFile, 'utf8')
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable'
  }
  const trimmed = text.trim()
  if (!/^[1-9][0-9]*$/.test(trimmed)) return 'malformed'
  return Number(trimmed)
}

/** Reads the status file; undefined when it is missing or not ours. */
export function readStatus (pidFile: string): Status | undefined {
  try {
    const status = JSON.parse(readFileSync(statusPath(pidFile), 'utf8')) as Status
    if (typeof status.pid === 'number' && typeof status.attempt === 'number' && typeof status.attempts === 'object') return status
  } catch {}
  return undefined
}

/** Removes the pid file and its status file if they still name `pid` (at final shutdown). */
export function removeIfOurs (pidFile: string, pid: number): void {
  if (readPid(pidFile) !== pid) return
  rmSync(statusPath(pidFile), { force: true })
  rmSync(pidFile, { force: true })
}
