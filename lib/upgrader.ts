/**
 * The framework-free core: one upgrader per process, shared by every app in it.
 *
 * Invariants (DESIGN.md section 2), each kept here:
 * 1. At most two generations at once, at most one of them not ready: an upgrade is refused
 *    while this process's own predecessor is alive, and while another upgrade runs.
 * 2. The listening sockets are never closed while a generation is alive: they are handed over
 *    by fd, and the predecessor only closes its own copy once the successor is ready.
 * 3. The predecessor accepts until the successor says ready (listen done on every app, onListen
 *    hooks run); a successor that exits or misses `readyTimeout` is killed and nothing changes.
 * 4. One upgrade at a time; every refusal has its own code (in progress, not ready, predecessor
 *    draining, shutting down).
 * 5. The drain never makes a client fail: see drain.ts.
 * 6. atExit hooks run once, after the drain and before the apps close; never in a process
 *    whose upgrade failed (it keeps serving).
 * 7. Nothing leaks: the fds are passed by number (no dups in the predecessor), the successor
 *    closes the inherited fds nobody claimed, and the IPC channel dies with the predecessor.
 */
import dgram from 'node:dgram'
import type net from 'node:net'
import { initialCwd } from './cwd'
import { AtExitHooks, closeWithin, type AtExitHook, type AtExitReport } from './at-exit'
import { drain, stopReceiving, trackConnections, type DrainReport } from './drain'
import { channels, publish } from './events'
import { Handover, listeningAddresses, receiveConnections, toSuccessor, viaSupervisor } from './handover'
import { AttemptLog, refusal } from './attempts'
import { InvalidOptionError, SocketTooLateError } from './errors'
import { settleLogger, type Logger } from './log'
import { MANIFEST_VERSION, readManifest, type Manifest } from './manifest'
import type { ResolvedOptions } from './options'
import type { UpgradeResult } from './protocol'
import { checkPidFile, readStatus, removeIfOurs, writeServing, writeStatus } from './pid-file'
import { connectPredecessor, reportBootErrors, type Predecessor } from './predecessor'
import { checkNamedSocket } from './listen-args'
import { handOver, Sockets, unlinkPaths, type Listener } from './sockets'
import { stopAfterDelay } from './stop-delay'
import { spawnSuccessor, type Successor } from './successor'
import { connectSupervisor, type SupervisorLink } from './supervised'
import { notifySystemd, systemdNotifies } from './systemd'

export type { Logger } from './log'
export type { UpgradeResult } from './protocol'

/** An app served by this process: a Fastify instance or a node:http server. */
export interface Participant {
  /** For logs. */
  readonly name: string
  /** A socket opened by name, not an app: it does not keep the upgrader from being disposed of. */
  readonly socket?: boolean
  /** Closes the app once drained (fastify.close()). */
  close (): Promise<void>
}

export type UpgraderState = 'booting' | 'serving' | 'upgrading' | 'draining' | 'closed'

/** What the process provides; replaced in tests. */
export interface ProcessSeam {
  exit (code: number): void
  platform: NodeJS.Platform
}

const realProcess: ProcessSeam = {
  exit: (code) => process.exit(code),
  platform: process.platform
}

let manifestRead = false

// a successor that dies while it boots tells its predecessor why (whichever entry point loads)
const stopReportingBootErrors = reportBootErrors()

export class Upgrader {
  readonly generation: number
  readonly atExitHooks = new AtExitHooks()
  readonly drainHooks = new AtExitHooks('onDrain', 'drainTimeout')
  readonly sockets: Sockets
  readonly predecessor: Predecessor | undefined
  /** The supervisor, when this process runs under `fastify-hot-restart run`. */
  readonly supervisor: SupervisorLink | undefined
  readonly options: ResolvedOptions
  state: UpgraderState = 'booting'
  /** True during the stop delay (see stop-delay.ts): it still serves, but is not ready. */
  stopping = false
  private readonly log: Logger
  private readonly cwd: string
  private readonly participants = new Map<Participant, boolean>()
  private readonly removeListenHook: () => void
  private readonly disposers: Array<() => void> = []
  private readonly onSignal: () => void
  private readonly seam: ProcessSeam
  private readonly pidFile: string | undefined
  private successor: Successor | undefined
  private closing: Promise<void> | undefined
  private readonly attempts = new AttemptLog(() => this.writeStatusFile())
  private readonly socketNames = new Set<string>()

  constructor (options: ResolvedOptions, log: Logger, seam: ProcessSeam = realProcess) {
    this.options = options
    this.log = log
    this.seam = seam

    const reading = manifestRead ? { kind: 'none' as const } : readManifestOrReport()
    const firstUpgrader = !manifestRead
    manifestRead = true
    let manifest: Manifest | undefined
    if (reading.kind === 'foreign') {
      log.warn({ event: 'manifest.foreign', manifestPid: reading.pid, ppid: process.ppid },
        'hot-restart: ignoring a manifest in the environment that another process left (its pid is not our parent\'s); binding fresh sockets')
    } else if (reading.kind === 'ours') {
      manifest = reading.manifest
      if (reading.orphaned === true) {
        log.warn({ event: 'manifest.orphaned', predecessorPid: manifest.pid, ppid: process.ppid },
          'hot-restart: the predecessor died while this process booted; serving its sockets alone')
      }
    }
    this.generation = manifest?.generation ?? 1
    this.cwd = manifest?.cwd ?? initialCwd()
    // under a supervisor, it owns the pid file and runs the upgrades (see supervised.ts)
    // the workers of generation 1 (`run --workers`) inherit sockets but replace nobody
    this.supervisor = firstUpgrader ? connectSupervisor(manifest !== undefined && manifest.generation > 1, log) : undefined
    this.pidFile = options.pidFile === undefined || this.supervisor !== undefined ? undefined : checkPidFile(options.pidFile)
    this.predecessor = this.supervisor?.predecessor ?? (manifest === undefined ? undefined : connectPredecessor(manifest.pid))
    // the predecessor hands its connections over once this process is ready (under a
    // supervisor, relayed by it: taken for as long as this process serves)
    if (this.predecessor?.alive === true) {
      this.disposers.push(receiveConnections(process, this, this.supervisor === undefined ? this.predecessor.exited : undefined))
    }
    if (this.predecessor?.alive === true) {
      this.predecessor.exited.then(() => {
        if (this.state !== 'closed') log.info({ event: 'predecessor.exited', predecessorPid: this.predecessor?.pid }, 'hot-restart: the predecessor has exited')
      })
    }

    this.sockets = new Sockets(manifest?.sockets ?? [], log)
    this.sockets.onListening = (listener: Listener) => {
      this.disposers.push(trackConnections(listener.server))
    }
    this.removeListenHook = this.sockets.install()

    this.onSignal = () => {
      this.upgrade().catch(() => { /* logged by upgrade() */ })
    }
    if (seam.platform !== 'win32') process.on(options.signal, this.onSignal)
    if (this.supervisor !== undefined) {
      // the supervisor's pid file is the one that names the server
      log.info({ event: 'supervised', supervisorPid: this.supervisor.pid, generation: this.generation, ignoredPidFile: options.pidFile }, 'hot-restart: running under a supervisor')
      this.disposers.push(this.supervisor.listen({
        drain: (order) => {
          const handover = this.options.connectionHandover ? new Handover(viaSupervisor(process), listeningAddresses(this.sockets.listeners)) : undefined
          this.finish('upgrade', { ...order, readyAt: performance.now() }, handover).catch(/* c8 ignore next */ () => {})
        },
        shutdown: (why, stopDelay) => {
          log.info({ event: 'shutdown.started', why }, why === 'shutdown' ? 'hot-restart: the supervisor asks for a shutdown' : 'hot-restart: the supervisor has exited; shutting down')
          // the supervisor stops (SIGTERM): the longer of its --stop-delay and this app's stopDelay
          const delay = stopDelay === undefined ? 0 : Math.max(stopDelay, options.stopDelay)
          // it does not reject; if it did, the rejection would end the process (exit 1)
          void stopAfterDelay(this, delay, log).then(async () => {
            await settleLogger(log)
            this.seam.exit(0)
          })
        }
      }))
    }
  }

  /** True once this process drains (it handed over, or it is shutting down). */
  get draining (): boolean {
    return this.state === 'draining' || this.state === 'closed'
  }

  /** Registers a cleanup hook; see AtExitHooks. */
  atExit (fn: AtExitHook): () => void {
    return this.atExitHooks.add(fn)
  }

  /** Registers a hook run when the drain starts (to end long-lived connections); see AtExitHooks. */
  onDrain (fn: AtExitHook): () => void {
    return this.drainHooks.add(fn)
  }

  /**
   * Adds an app. The process is ready once every app added has listened.
   * @returns the function to call once the app listens
   */
  addParticipant (participant: Participant): { listening: () => void, remove: () => void } {
    this.participants.set(participant, false)
    return {
      listening: () => {
        if (!this.participants.has(participant)) return
        this.participants.set(participant, true)
        if ([...this.participants.values()].every(Boolean)) this.becomeReady()
      },
      remove: () => {
        this.participants.delete(participant)
      }
    }
  }

  /**
   * Opens a socket that is handed over by name: a net.Server listens, a dgram socket binds. In a
   * successor it serves the socket of that name that its predecessor had, when asked for with
   * the same address. The process is ready once every such socket is open, so open them before
   * the app listens.
   * @returns the address, once open
   * @throws FST_HOT_RESTART_INVALID_OPTION for bad arguments or a name already open,
   * FST_HOT_RESTART_SOCKET_TOO_LATE once the process is ready
   */
  async openSocket (name: string, socket: net.Server | dgram.Socket, options: unknown = {}): Promise<net.AddressInfo | string> {
    checkNamedSocket(name, socket, options)
    if (this.socketNames.has(name)) throw new InvalidOptionError(`A socket named "${name}" is already open in this process`)
    if (this.state !== 'booting') throw new SocketTooLateError(name, this.state)
    this.socketNames.add(name)
    const participant = this.addParticipant({
      name: `socket ${name}`,
      socket: true,
      close: async () => {
        if (socket instanceof dgram.Socket) stopReceiving(socket)
        else await new Promise<void>(resolve => { socket.close(() => resolve()) })
      }
    })
    try {
      const address = socket instanceof dgram.Socket
        ? await this.sockets.bindDatagram(socket, name, options)
        : await this.sockets.listenNamed(socket, name, options)
      participant.listening()
      return address
    } catch (err) {
      participant.remove()
      this.socketNames.delete(name)
      throw err
    }
  }

  /** How many apps share this upgrader. */
  get participantCount (): number {
    return [...this.participants.keys()].filter(participant => participant.socket !== true).length
  }

  private becomeReady (): void {
    if (this.state !== 'booting') return
    this.state = 'serving'
    const closed = this.sockets.closeUnclaimed()
    if (closed.length > 0) {
      this.log.info({ event: 'sockets.unclaimed', fds: closed.map(e => e.fd) }, 'hot-restart: closed inherited sockets that no listen() claimed')
    }
    stopReportingBootErrors()
    // standalone under systemd (Type=notify): systemd learns the new main pid before the
    // predecessor, the old one, may exit; a supervisor notifies for itself
    if (this.supervisor === undefined && systemdNotifies()) {
      notifySystemd([`MAINPID=${process.pid}`, 'READY=1'], this.log).then(() => this.announceReady())
    } else {
      this.announceReady()
    }
  }

  private announceReady (): void {
    // the files first: once the predecessor hears "ready" it may record the hand-over, which
    // must not race with this process's own status file
    if (this.pidFile !== undefined) {
      try {
        writeServing(this.pidFile, process.pid, this.generation, this.options.signal, this.predecessor?.alive === true ? this.predecessor.pid : undefined)
      } catch (err) {
        this.log.error({ event: 'pid-file.failed', err, pidFile: this.pidFile }, 'hot-restart: could not write the pid file')
      }
    }
    this.supervisor?.sendSockets(this.sockets.listeners, this.sockets.datagrams)
    this.predecessor?.sendReady()
    // no `pid`: the logger binds it (pino), and a key twice breaks strict JSON consumers
    this.log.info({ event: 'ready', generation: this.generation }, 'hot-restart: ready')
  }

  private writeStatusFile (): void {
    if (this.pidFile === undefined || this.state === 'draining' || this.state === 'closed') return
    try {
      // another process may serve from this pid file now (our successor): never write over it
      if (readStatus(this.pidFile)?.pid !== process.pid) return
      writeStatus(this.pidFile, { pid: process.pid, generation: this.generation, attempt: this.attempts.attempt, attempts: this.attempts.attempts })
    } catch (err) {
      this.log.error({ event: 'status-file.failed', err, pidFile: this.pidFile }, 'hot-restart: could not write the status file')
    }
  }

  /**
   * Replaces this process with a fresh one on the same sockets. Resolves once the successor is
   * ready (this process then drains and exits); rejects with a coded error, and keeps serving,
   * if the upgrade is refused or the successor fails.
   */
  async upgrade (): Promise<UpgradeResult> {
    const attempt = this.attempts.next()
    const refused = refusal({
      // the stop delay: it serves on, but is going
      phase: this.stopping ? 'stopping' : this.state,
      platform: this.seam.platform,
      predecessorDraining: this.predecessor?.alive === true ? String(this.predecessor.pid) : undefined
    })
    if (refused !== undefined) {
      this.log.warn({ event: 'upgrade.refused', code: (refused as { code?: string }).code }, `hot-restart: upgrade refused: ${refused.message}`)
      this.attempts.refused(attempt, refused)
      throw refused
    }
    // under a supervisor, the supervisor spawns the successor and tells this process to drain
    if (this.supervisor !== undefined) return await this.supervisor.upgrade()
    this.state = 'upgrading'
    this.attempts.record(attempt, { state: 'upgrading' })
    const started = performance.now()
    const { entries, fds } = handOver(this.sockets.listeners, this.sockets.datagrams)
    const generation = this.generation + 1
    const successor = spawnSuccessor({
      manifest: { version: MANIFEST_VERSION, pid: process.pid, generation, cwd: this.cwd, sockets: entries },
      fds,
      readyTimeout: this.options.readyTimeout,
      log: this.log
    })
    this.successor = successor
    this.attempts.record(attempt, { state: 'upgrading', successorPid: successor.pid, generation })
    this.log.info({ event: 'upgrade.started', successorPid: successor.pid, generation, sockets: entries.length }, 'hot-restart: upgrade started')
    publish(channels.upgradeStart, () => ({ successorPid: successor.pid, generation }))
    let ready
    try {
      ready = await successor.ready
    } catch (err) {
      this.successor = undefined
      if (this.state === 'upgrading') this.state = 'serving'
      const e = err as Error & { code?: string, cause?: unknown }
      this.log.error({ event: 'upgrade.failed', err: e, code: e.code, successorPid: successor.pid, generation, details: e.cause },
        `hot-restart: upgrade failed; still serving: ${e.message}`)
      this.attempts.record(attempt, { state: 'failed', code: e.code, message: e.message, successorPid: successor.pid, generation })
      publish(channels.upgradeFailed, () => ({ successorPid: successor.pid, generation, code: e.code, message: e.message, durationMs: Math.round(performance.now() - started) }))
      throw err
    }
    const readyAt = performance.now()
    this.successor = undefined
    successor.process.unref()
    this.log.info({ event: 'upgrade.ready', successorPid: ready.pid, generation, signalToReadyMs: Math.round(readyAt - started) },
      'hot-restart: the successor is ready; draining')
    publish(channels.upgradeReady, () => ({ successorPid: ready.pid, generation, signalToReadyMs: Math.round(readyAt - started) }))
    // where the successor could not write the pid file, this record still leads the CLI to it
    this.attempts.record(attempt, { state: 'handed-over', successorPid: ready.pid, generation })
    const handover = this.options.connectionHandover ? new Handover(toSuccessor(successor.process), listeningAddresses(this.sockets.listeners)) : undefined
    this.finish('upgrade', { successorPid: ready.pid, generation, signalToReadyMs: Math.round(readyAt - started), readyAt }, handover)
      .catch(/* c8 ignore next */ () => {})
    return { pid: ready.pid, generation, readyMs: Math.round(readyAt - started) }
  }

  /**
   * Shuts this process down gracefully: stops a successor that is booting, drains, runs the
   * atExit hooks, closes the apps. Resolves when done; the caller exits.
   */
  shutdown (): Promise<void> {
    return this.finish('shutdown', undefined)
  }

  private finish (reason: 'upgrade' | 'shutdown', upgrade: { successorPid: number, generation: number, signalToReadyMs: number, readyAt: number } | undefined, handover?: Handover): Promise<void> {
    this.closing ??= (async () => {
      if (this.successor !== undefined) {
        this.log.info({ event: 'upgrade.aborted', successorPid: this.successor.pid }, 'hot-restart: stopping the successor that is booting')
        await this.successor.kill()
      }
      this.state = 'draining'
      if (this.seam.platform !== 'win32') process.removeListener(this.options.signal, this.onSignal)
      const listeners = [...this.sockets.listeners]
      const servers = new Set<net.Server>(listeners.map(l => l.server))
      const draining = drain(servers, this.options.drainTimeout, this.options.idleGrace, handover)
      publish(channels.drainStart, () => ({ reason, successorPid: upgrade?.successorPid, generation: upgrade?.generation ?? this.generation }))
      // the successor reads from its own copy of each UDP socket: this one stops reading
      for (const { socket } of [...this.sockets.datagrams]) stopReceiving(socket)
      // the app ends its long-lived connections (SSE, WebSocket) while the drain waits for them
      const drainHooks = this.drainHooks.run(this.options.drainTimeout, this.log)
      const drained: DrainReport = await draining
      await drainHooks
      if (drained.forced > 0) {
        this.log.warn({ event: 'drain.forced', forced: drained.forced, forcedRequests: drained.forcedRequests, drainTimeout: this.options.drainTimeout },
          'hot-restart: drainTimeout reached; closed the remaining connections')
      }
      const drainedAt = performance.now()
      publish(channels.drainEnd, () => ({ reason, successorPid: upgrade?.successorPid, generation: upgrade?.generation ?? this.generation, report: drained, durationMs: drained.durationMs }))
      const hooks: AtExitReport = await this.atExitHooks.run(this.options.atExitTimeout, this.log)
      await this.closeParticipants()
      if (reason === 'shutdown' && this.supervisor === undefined) {
        // the last generation: its unix socket paths go, and so does its pid file (under a
        // supervisor, the supervisor removes them when it stops: a crashed generation's
        // successor goes on serving them)
        unlinkPaths(listeners)
        if (this.pidFile !== undefined) removeIfOurs(this.pidFile, process.pid)
      }
      this.dispose()
      const timings = upgrade === undefined
        ? { drainMs: drained.durationMs, drainedToExitMs: Math.round(performance.now() - drainedAt) }
        : {
            signalToReadyMs: upgrade.signalToReadyMs,
            readyToDrainedMs: Math.round(drainedAt - upgrade.readyAt),
            drainedToExitMs: Math.round(performance.now() - drainedAt)
          }
      this.log.info({
        event: 'exit',
        hotRestart: {
          reason,
          predecessorPid: process.pid,
          successorPid: upgrade?.successorPid,
          generation: upgrade?.generation ?? this.generation,
          ...timings,
          moved: drained.moved,
          notMoved: drained.notMoved,
          closedIdle: drained.closedIdle,
          goaway: drained.goaway,
          forced: drained.forced,
          atExitHooks: hooks.ran,
          atExitFailed: hooks.failed.length + hooks.timedOut.length
        }
      }, reason === 'upgrade' ? 'hot-restart: handed over; exiting' : 'hot-restart: shut down')
      if (reason === 'upgrade') {
        await settleLogger(this.log)
        this.seam.exit(0)
      }
    })()
    return this.closing
  }

  private async closeParticipants (): Promise<void> {
    // bounded like the atExit hooks: an onClose hook that never settles must not keep this process alive
    const left = await closeWithin(this.participants.keys(), this.options.atExitTimeout, (err, app) => {
      this.log.error({ event: 'app.close-failed', err, app }, 'hot-restart: closing the app failed')
    })
    if (left.length > 0) {
      this.log.error({ event: 'app.close-timeout', apps: left, atExitTimeout: this.options.atExitTimeout },
        `hot-restart: ${left.join(', ')} did not close within atExitTimeout; exiting anyway`)
    }
  }

  /** Removes everything this upgrader installed in the process (signal handler, listen hook). */
  dispose (): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    if (this.seam.platform !== 'win32') process.removeListener(this.options.signal, this.onSignal)
    this.removeListenHook()
    for (const dispose of this.disposers.splice(0)) dispose()
  }

  /** Adds something to undo when this upgrader is disposed of. */
  onDispose (fn: () => void): void {
    this.disposers.push(fn)
  }
}

function readManifestOrReport (): ReturnType<typeof readManifest> {
  try {
    return readManifest(process.env, process.ppid)
  } catch (err) {
    // tell the predecessor why (if it is listening) before the boot fails
    connectPredecessor(process.ppid).sendError(err)
    throw err
  }
}

let shared: Upgrader | undefined

/**
 * The upgrader of this process, created by the first app that asks; the apps that follow
 * share it (one signal reloads the process once), and its options are the first app's.
 * @returns the upgrader and whether this call created it
 */
export function sharedUpgrader (options: ResolvedOptions, log: Logger): { upgrader: Upgrader, created: boolean } {
  if (shared !== undefined && shared.state !== 'closed') return { upgrader: shared, created: false }
  shared = new Upgrader(options, log)
  return { upgrader: shared, created: true }
}
