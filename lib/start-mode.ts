/**
 * How a generation starts: what its predecessor handed it (the manifest, read once per process)
 * and which mode it runs in (mode.ts), chosen here, once: under a supervisor when one started it,
 * standalone otherwise.
 */
import { initialCwd } from './cwd'
import type { Logger } from './log'
import { readManifest, type Manifest } from './manifest'
import type { GenerationMode } from './mode'
import type { ResolvedOptions } from './options'
import { connectPredecessor } from './predecessor'
import { activatedEntries } from './socket-activation'
import type { ProcessSeam } from './process-seam'
import type { SocketEntry } from './protocol'
import { standaloneMode } from './standalone'
import { connectSupervisor, supervisedMode } from './supervised'

/** The processes whose manifest was read: only the first upgrader of a process inherits. */
const read = new WeakSet<object>()

export interface Start {
  /** 1 for the first process, then its predecessor's plus one. */
  generation: number
  /** The sockets inherited. */
  sockets: SocketEntry[]
  mode: GenerationMode
}

/**
 * Reads the manifest (the first time in this process) and chooses the mode.
 * @throws FST_HOT_RESTART_BAD_MANIFEST (the predecessor is told why first),
 * FST_HOT_RESTART_SUPERVISOR_EXITED, FST_HOT_RESTART_PID_FILE
 */
export function startMode (options: ResolvedOptions, log: Logger, seam: ProcessSeam): Start {
  const proc = seam.proc
  const first = !read.has(proc)
  const reading = first ? readManifestOrReport(proc) : { kind: 'none' as const }
  read.add(proc)
  let manifest: Manifest | undefined
  if (reading.kind === 'foreign') {
    log.warn({ event: 'manifest.foreign', manifestPid: reading.pid, ppid: proc.ppid },
      'hot-restart: ignoring a manifest in the environment that another process left (its pid is not our parent\'s); binding fresh sockets')
  } else if (reading.kind === 'ours') {
    manifest = reading.manifest
    if (reading.orphaned === true) {
      log.warn({ event: 'manifest.orphaned', predecessorPid: manifest.pid, ppid: proc.ppid },
        'hot-restart: the predecessor died while this process booted; serving its sockets alone')
    }
  }
  // under a supervisor, it owns the pid file and runs the upgrades (see supervised.ts)
  // the workers of generation 1 (`run --workers`) inherit sockets but replace nobody
  const link = first ? connectSupervisor(manifest !== undefined && manifest.generation > 1, log, proc) : undefined
  const mode = link !== undefined
    ? supervisedMode(link, log, proc)
    : standaloneMode({ options, predecessorPid: manifest?.pid, cwd: manifest?.cwd ?? initialCwd(), seam, log })
  // a standalone generation 1 under systemd socket activation serves systemd's sockets
  const sockets = manifest?.sockets ?? (first && link === undefined ? activatedEntries(log, proc.env, proc.pid) : [])
  return { generation: manifest?.generation ?? 1, sockets, mode }
}

function readManifestOrReport (proc: NodeJS.Process): ReturnType<typeof readManifest> {
  try {
    return readManifest(proc.env, proc.ppid)
  } catch (err) {
    // tell the predecessor why (if it is listening) before the boot fails
    connectPredecessor(proc.ppid, proc).sendError(err)
    throw err
  }
}
