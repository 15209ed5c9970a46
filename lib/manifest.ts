/**
 * The protocol between generations: one environment variable that describes the sockets
 * handed over (by position in the successor's stdio: fd 3, 4, ...), the predecessor's pid and
 * the generation. A successor trusts it when the pid in it is its parent's, or was when this
 * module loaded, or (the predecessor died before that: SIGKILL, an OOM kill) when that process
 * is gone and every fd the manifest names is a listening socket on the manifest's port (Linux).
 * The variable is removed once read: a process the app starts must not take itself for a successor.
 */
import { fstatSync, readFileSync, readlinkSync } from 'node:fs'
import { BadManifestError } from './errors'
import { checkSocketEntry, MANIFEST_ENV, type ListenRequest, type SocketEntry } from './protocol'
import { listedAsListening } from './socket-kinds'

// the protocol's vocabulary lives in protocol.ts; re-exported for the modules that read manifests
export { MANIFEST_ENV }
export type { ListenRequest, SocketEntry }

/** The version of the manifest format; a successor refuses any other. */
export const MANIFEST_VERSION = 1
/** The first fd of a handed-over socket in the successor (after stdin, stdout, stderr). */
export const FIRST_FD = 3

// the parent as early as this process can tell: a successor whose predecessor dies later is
// reparented (to init or a subreaper), and process.ppid no longer names the predecessor
const parentAtLoad = process.ppid

export interface Manifest {
  version: typeof MANIFEST_VERSION
  /** The predecessor's pid: the successor's parent. */
  pid: number
  /** The successor's generation. */
  generation: number
  /** The first generation's working directory, re-resolved at each spawn. */
  cwd: string
  sockets: SocketEntry[]
}

/** Encodes a manifest for the environment. */
export function encodeManifest (manifest: Manifest): string {
  return JSON.stringify(manifest)
}

/** The result of reading the environment: no manifest, a foreign one (ignored), or one to use. */
export type ManifestReading =
  | { kind: 'none' }
  | { kind: 'foreign', pid: number }
  | { kind: 'ours', manifest: Manifest, orphaned?: true }

function fail (why: string): never {
  throw new BadManifestError(why)
}

function isInt (v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min
}

function checkEntry (entry: unknown, index: number): SocketEntry {
  const where = `socket ${index}`
  if (typeof entry !== 'object' || entry === null) fail(`${where} is not an object`)
  const e = entry as Record<string, unknown>
  if (!isInt(e.fd, FIRST_FD)) fail(`${where} has no valid fd (got ${JSON.stringify(e.fd)})`)
  const fd = e.fd
  const why = checkSocketEntry(e)
  if (why !== undefined) fail(`fd ${fd}: ${why}`)
  let stat
  try {
    stat = fstatSync(fd)
  } catch (err) {
    fail(`fd ${fd} is not open (${(err as NodeJS.ErrnoException).code})`)
  }
  if (!stat.isSocket()) fail(`fd ${fd} is not a socket`)
  return e as unknown as SocketEntry
}

/** Whether process `pid` is alive: it exists (another user's counts) and is not a zombie. */
function alive (pid: number, proc: string): boolean {
  let stat: string
  try {
    stat = readFileSync(`${proc}/${pid}/stat`, 'utf8')
  } catch {
    // no such process, or no /proc (not Linux): ask the kernel (EPERM: it exists)
    try {
      process.kill(pid, 0)
      return true
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM'
    }
  }
  // a zombie has exited: it only waits for its parent to reap it
  return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
}

/**
 * Whether `fd` is a listening socket of this process where the entry says (Linux: /proc): a TCP
 * or UDP socket bound to the entry's port, or a listening unix socket. False where it cannot
 * tell (no /proc, or the entry is malformed).
 */
export function listensAsNamed (entry: unknown, proc = '/proc'): boolean {
  const e = entry as Partial<SocketEntry> | null
  if (typeof e !== 'object' || e === null || !isInt(e.fd, FIRST_FD)) return false
  let inode: string | undefined
  try {
    inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`${proc}/self/fd/${e.fd}`))?.[1]
  } catch {
    return false
  }
  return inode !== undefined && listedAsListening(e as SocketEntry, inode, proc)
}

/**
 * Whether this process is the successor that the manifest's pid spawned, though that process
 * is no longer its parent: it was when this module loaded, or it is gone and every fd the
 * manifest names is a socket listening where the manifest says (a process that only copied
 * the environment has no such fds).
 */
function orphanedSuccessor (m: Record<string, unknown>, pid: number, parentAtStart: number, proc: string): boolean {
  if (pid === parentAtStart) return true
  if (alive(pid, proc) || !Array.isArray(m.sockets) || m.sockets.length === 0) return false
  return m.sockets.every(entry => listensAsNamed(entry, proc))
}

/**
 * Reads, checks and removes the manifest in `env`.
 * A manifest whose pid is not `ppid` (nor `parentAtStart`, the parent when this module
 * loaded) and that the fds do not bear out (`proc`: where /proc is) was copied into an unrelated process: it is
 * reported as foreign (to be ignored with a warning), and its fds are never touched. One
 * whose pid is gone but whose fds are the listening sockets it names is ours, `orphaned`: the
 * predecessor died while this process booted.
 * @throws FST_HOT_RESTART_BAD_MANIFEST when the manifest is ours but malformed, names an fd
 * that is not open or not a socket.
 */
export function readManifest (env: NodeJS.ProcessEnv, ppid: number, parentAtStart = parentAtLoad, proc = '/proc'): ManifestReading {
  const raw = env[MANIFEST_ENV]
  // read once: a process the app starts (it inherits the environment) is not a successor
  delete env[MANIFEST_ENV]
  if (raw === undefined || raw === '') return { kind: 'none' }
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    fail(`${MANIFEST_ENV} is not JSON`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail(`${MANIFEST_ENV} is not a JSON object`)
  const m = parsed as Record<string, unknown>
  if (!isInt(m.pid, 1)) fail(`${MANIFEST_ENV} has no valid "pid"`)
  const orphaned = m.pid !== ppid
  if (orphaned && !orphanedSuccessor(m, m.pid, parentAtStart, proc)) return { kind: 'foreign', pid: m.pid }
  if (m.version !== MANIFEST_VERSION) fail(`unsupported manifest version ${JSON.stringify(m.version)} (expected ${MANIFEST_VERSION})`)
  if (!isInt(m.generation, 1)) fail(`${MANIFEST_ENV} has no valid "generation"`)
  if (typeof m.cwd !== 'string') fail(`${MANIFEST_ENV} has no valid "cwd"`)
  if (!Array.isArray(m.sockets)) fail(`${MANIFEST_ENV} has no "sockets" array`)
  const sockets = m.sockets.map(checkEntry)
  const manifest: Manifest = { version: MANIFEST_VERSION, pid: m.pid, generation: m.generation, cwd: m.cwd, sockets }
  return orphaned ? { kind: 'ours', manifest, orphaned } : { kind: 'ours', manifest }
}

/**
 * The environment for a successor: the current one without any inherited protocol variables
 * (ours, and Node's IPC channel ones, which a grandchild would otherwise read), plus the new
 * manifest (if any).
 */
export function successorEnv (env: NodeJS.ProcessEnv, manifest: Manifest | undefined): NodeJS.ProcessEnv {
  const next: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(env)) {
    if (key === MANIFEST_ENV || key.startsWith('NODE_CHANNEL_')) continue
    next[key] = value
  }
  if (manifest !== undefined) next[MANIFEST_ENV] = encodeManifest(manifest)
  return next
}
