/**
 * The protocol between generations: one environment variable that describes the sockets
 * handed over (by position in the successor's stdio: fd 3, 4, ...), the predecessor's pid and
 * the generation. A successor trusts it only when the pid in it is its parent's.
 */
import { fstatSync } from 'node:fs'
import { BadManifestError } from './errors'
import { MANIFEST_ENV, type ListenRequest, type SocketEntry } from './protocol'

// the protocol's vocabulary lives in protocol.ts; re-exported for the modules that read manifests
export { MANIFEST_ENV }
export type { ListenRequest, SocketEntry }

/** The version of the manifest format; a successor refuses any other. */
export const MANIFEST_VERSION = 1
/** The first fd of a handed-over socket in the successor (after stdin, stdout, stderr). */
export const FIRST_FD = 3

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
  | { kind: 'ours', manifest: Manifest }

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
  const req = e.requested as Record<string, unknown> | undefined
  if (typeof req !== 'object' || req === null || typeof req.host !== 'string' || !isInt(req.port, 0)) {
    fail(`fd ${fd}: missing or malformed "requested"`)
  }
  if (e.name !== undefined && (typeof e.name !== 'string' || e.name.length === 0)) fail(`fd ${fd}: "name" is not a non-empty string`)
  if (e.kind === 'tcp' || e.kind === 'udp') {
    if (typeof e.address !== 'string' || !isInt(e.port, 1)) fail(`fd ${fd}: a ${e.kind} socket needs "address" and "port"`)
  } else if (e.kind === 'unix') {
    if (typeof e.path !== 'string' || e.path.length === 0) fail(`fd ${fd}: a unix socket needs "path"`)
  } else {
    fail(`fd ${fd}: unknown kind ${JSON.stringify(e.kind)} (expected "tcp", "unix" or "udp")`)
  }
  let stat
  try {
    stat = fstatSync(fd)
  } catch (err) {
    fail(`fd ${fd} is not open (${(err as NodeJS.ErrnoException).code})`)
  }
  if (!stat.isSocket()) fail(`fd ${fd} is not a socket`)
  return e as unknown as SocketEntry
}

/**
 * Reads and checks the manifest in `env`.
 * A manifest whose pid is not `ppid` was copied into an unrelated process: it is reported as
 * foreign (to be ignored with a warning), and its fds are never touched.
 * @throws FST_HOT_RESTART_BAD_MANIFEST when the manifest is ours but malformed, names an fd
 * that is not open or not a socket.
 */
export function readManifest (env: NodeJS.ProcessEnv, ppid: number): ManifestReading {
  const raw = env[MANIFEST_ENV]
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
  if (m.pid !== ppid) return { kind: 'foreign', pid: m.pid }
  if (m.version !== MANIFEST_VERSION) fail(`unsupported manifest version ${JSON.stringify(m.version)} (expected ${MANIFEST_VERSION})`)
  if (!isInt(m.generation, 1)) fail(`${MANIFEST_ENV} has no valid "generation"`)
  if (typeof m.cwd !== 'string') fail(`${MANIFEST_ENV} has no valid "cwd"`)
  if (!Array.isArray(m.sockets)) fail(`${MANIFEST_ENV} has no "sockets" array`)
  const sockets = m.sockets.map(checkEntry)
  return { kind: 'ours', manifest: { version: MANIFEST_VERSION, pid: m.pid, generation: m.generation, cwd: m.cwd, sockets } }
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
