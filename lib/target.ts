/**
 * Which process the CLI may signal. The pid file and its status file name it; before anything
 * is signalled, both must be small regular files (a FIFO or a device is never opened to block),
 * not writable by group or others, owned by the CLI's user, root, or the user the named process
 * runs as (so another local user cannot aim the CLI at a process they do not own); and the
 * process must be the one that wrote them: its start time (from /proc) is the one the server
 * recorded, so a pid reused after a crash is not signalled. A zombie counts as exited.
 */
import type { Stats } from 'node:fs'
import { parsePid, parseStatus, PID_FILE_LIMIT, STATUS_FILE_LIMIT, statusPath, type Status } from './pid-file'
import { isRunning, processOwner, processStart } from './process-info'
import { readSmallFile } from './safe-file'

/** The files do not name a process the CLI may signal; the message says why and what to do. */
export class NoServerError extends Error {}

/** A process the CLI may signal. */
export interface Target {
  pid: number
  /** The status file as read. */
  status: Status
  /** Set when the pid file does not name `pid` (it could not be written): a warning to show. */
  note?: string
}

interface Read {
  path: string
  text: string
  stats: Stats
}

/** Reads a small file; undefined when missing. @throws NoServerError */
function read (path: string, limit: number, what: string): Read | undefined {
  try {
    return { path, ...readSmallFile(path, limit) }
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === 'ENOENT') return undefined
    if (code === 'FST_HOT_RESTART_UNSAFE_FILE') throw new NoServerError((err as Error).message.replace(/^fastify-hot-restart: /, ''))
    throw new NoServerError(`cannot read the ${what} ${path} (${code}): check its permissions.`)
  }
}

/**
 * Checks that `files` may be trusted to name `pid`, and that `pid` is the process that started
 * at `start` (as recorded). @throws NoServerError
 */
function verify (pid: number, start: string | undefined, files: Read[]): void {
  const owner = processOwner(pid)
  /* c8 ignore next: there is no uid on Windows */
  const me = process.geteuid?.() ?? 0
  for (const { path, stats } of files) {
    if ((stats.mode & 0o022) !== 0) {
      throw new NoServerError(`${path} is writable by its group or by others (mode 0${(stats.mode & 0o777).toString(8)}): refusing to trust it. The server writes it 0644; check who else writes in that folder.`)
    }
    if (stats.uid !== me && stats.uid !== 0 && stats.uid !== owner) {
      throw new NoServerError(`${path} is owned by uid ${stats.uid}: neither you (uid ${me}), root, nor the owner of process ${pid} (uid ${owner}): refusing to signal what it names.`)
    }
  }
  const actual = processStart(pid)
  if (actual !== undefined && actual !== start) {
    throw new NoServerError(`process ${pid} is not the server that wrote ${files[files.length - 1]!.path}: it started at tick ${actual}, the server at tick ${start ?? '(not recorded)'} (the pid was reused?). Remove the stale files and start the server again.`)
  }
}

/**
 * Finds the process to signal from a pid file: the one it names, or, when that one has exited
 * and its successor could not write the pid file, the successor that the status file names.
 * @throws NoServerError with what to do
 */
export function findServer (pidFile: string): Target {
  const pidRead = read(pidFile, PID_FILE_LIMIT, 'pid file')
  if (pidRead === undefined) throw new NoServerError(`no pid file at ${pidFile}: is the server running? Start it first (with the pidFile option set to this path).`)
  const pid = parsePid(pidRead.text)
  if (pid === 'malformed') throw new NoServerError(`the pid file ${pidFile} does not hold a pid: remove it and start the server again.`)
  const statusRead = read(statusPath(pidFile), STATUS_FILE_LIMIT, 'status file')
  const status = statusRead === undefined ? undefined : parseStatus(statusRead.text)
  if (isRunning(pid)) {
    if (status?.pid !== pid) {
      throw new NoServerError(`process ${pid} (from ${pidFile}) is not a fastify-hot-restart server (no status file names it): is the pid file stale?`)
    }
    verify(pid, status.start, [pidRead, statusRead!])
    return { pid, status }
  }
  const successor = status === undefined ? undefined : successorOf(pid, status)
  if (successor === undefined) throw new NoServerError(`stale pid file ${pidFile}: no process ${pid} is running. Start the server again.`)
  verify(successor.pid, successor.start, [statusRead!])
  return {
    pid: successor.pid,
    status: status!,
    note: `the pid file ${pidFile} names ${pid}, which has exited; its successor ${successor.pid} could not write it (its log says why): using ${successor.pid}, named by ${statusRead!.path}`
  }
}

/** The running process that took over from `pid`, as the status file records it. */
export function successorOf (pid: number, status: Status): { pid: number, start?: string } | undefined {
  // the successor wrote its status file, and not its pid file
  if (status.pid !== pid) return isRunning(status.pid) ? { pid: status.pid, start: status.start } : undefined
  // the successor wrote neither: its predecessor recorded the hand-over
  const handedOver = Object.keys(status.attempts).map(Number).sort((a, b) => b - a)
    .map(key => status.attempts[key]!).find(attempt => attempt.state === 'handed-over')
  const successorPid = handedOver?.successorPid
  return successorPid !== undefined && isRunning(successorPid) ? { pid: successorPid, start: handedOver!.successorStart } : undefined
}
