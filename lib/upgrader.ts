/**
 * The framework-free core: one upgrader per process, shared by every app in it. It holds the
 * generation's state machine for both modes (booting, serving, upgrading, draining, closed); the
 * mode, standalone or under a supervisor (mode.ts), is chosen once at start (start-mode.ts).
 *
 * Invariants (DESIGN.md section 2), each kept here:
 * 1. At most two generations at once, at most one of them not ready: an upgrade is refused
 *    while this process's own predecessor is alive, and while another upgrade runs.
 * 2. The listening sockets are never closed while a generation is alive: they are handed over
 *    by fd, and the predecessor only closes its own copy once the successor is ready.
 * 3. The predecessor accepts until the successor says ready (listen done on every app, onListen
 *    hooks run); a successor that exits or misses `readyTimeout` is killed and nothing changes.
 * 4. One upgrade at a time; every refusal has its own code (attempts.ts).
 * 5. The drain never makes a client fail: see drain.ts.
 * 6. atExit hooks run once, after the drain and before the apps close; never in a process
 *    whose upgrade failed (it keeps serving). See retire.ts.
 * 7. Nothing leaks: the fds are passed by number (no dups in the predecessor), the successor
 *    closes the inherited fds nobody claimed, and the IPC channel dies with the predecessor.
 */
import dgram from 'node:dgram'
import type net from 'node:net'
import { AtExitHooks, type AtExitHook } from './at-exit'
import { AttemptLog, refusal } from './attempts'
import { stopReceiving, trackConnections } from './drain'
import { InvalidOptionError, SocketTooLateError } from './errors'
import type { Handover } from './handover'
import { settleLogger, type Logger } from './log'
import type { GenerationMode, Machine, Participant, ReadyOrder, UpgradeContext, UpgraderState } from './mode'
import type { ResolvedOptions } from './options'
import { realProcess, type ProcessSeam } from './process-seam'
import type { UpgradeResult } from './protocol'
import { reportBootErrors, type Predecessor } from './predecessor'
import { retire } from './retire'
import { checkNamedSocket } from './listen-args'
import { Sockets, type Listener } from './sockets'
import { startMode } from './start-mode'

export type { Logger } from './log'
export type { UpgradeResult } from './protocol'
export type { Participant, UpgraderState } from './mode'
export type { ProcessSeam } from './process-seam'

// a successor that dies while it boots tells its predecessor why (whichever entry point loads)
const stopReportingBootErrors = reportBootErrors()

export class Upgrader implements Machine {
  readonly generation: number
  readonly atExitHooks = new AtExitHooks()
  readonly drainHooks = new AtExitHooks('onDrain', 'drainTimeout')
  readonly sockets: Sockets
  readonly predecessor: Predecessor | undefined
  /** Standalone or under a supervisor: chosen once, here. */
  readonly mode: GenerationMode
  readonly options: ResolvedOptions
  state: UpgraderState = 'booting'
  /** True during the stop delay (see stop-delay.ts): it still serves, but is not ready. */
  stopping = false
  private readonly log: Logger
  private readonly participants = new Map<Participant, boolean>()
  private readonly removeListenHook: () => void
  private readonly removeSignal: () => void
  private readonly disposers: Array<() => void> = []
  private readonly seam: ProcessSeam
  private readonly attempts = new AttemptLog(() => this.mode.writeStatus(this, this.attempts.attempt, this.attempts.attempts))
  private successor: { readonly pid: number | undefined, kill (): Promise<void> } | undefined
  private closing: Promise<void> | undefined
  private readonly socketNames = new Set<string>()

  /** @param seam the process (a fake one in tests: only what it gives replaces the real one's) */
  constructor (options: ResolvedOptions, log: Logger, seam: Partial<ProcessSeam> = {}) {
    this.options = options
    this.log = log
    this.seam = { ...realProcess, ...seam }
    const start = startMode(options, log, this.seam)
    this.generation = start.generation
    this.mode = start.mode
    this.predecessor = this.mode.predecessor
    if (this.predecessor?.alive === true) {
      this.predecessor.exited.then(() => {
        if (this.state !== 'closed') log.info({ event: 'predecessor.exited', predecessorPid: this.predecessor?.pid }, 'hot-restart: the predecessor has exited')
      })
    }
    this.sockets = new Sockets(start.sockets, log)
    this.sockets.onListening = (listener: Listener) => {
      this.disposers.push(trackConnections(listener.server))
    }
    this.removeListenHook = this.sockets.install()
    this.removeSignal = this.seam.platform === 'win32'
      ? () => {}
      : this.seam.onSignal(options.signal, () => { this.upgrade().catch(() => { /* logged by upgrade() */ }) })
    this.disposers.push(this.mode.start(this))
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
      server: socket,
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

  /** The servers of the apps that have not listened yet (undefined where not known); see spare.ts. */
  get notListening (): Array<object | undefined> {
    return [...this.participants].filter(([, listening]) => !listening).map(([participant]) => participant.server)
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
    const announce = (): void => {
      this.mode.ready(this)
      this.predecessor?.sendReady(this.options.successorNice)
      // no `pid`: the logger binds it (pino), and a key twice breaks strict JSON consumers
      this.log.info({ event: 'ready', generation: this.generation }, 'hot-restart: ready')
    }
    const before = this.mode.beforeReady()
    if (before === undefined) announce()
    else before.then(announce)
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
    this.state = 'upgrading'
    this.attempts.record(attempt, { state: 'upgrading' })
    const context: UpgradeContext = {
      record: (status) => this.attempts.record(attempt, status),
      booting: (successor) => { this.successor = successor }
    }
    try {
      return await this.mode.upgrade(this, context)
    } catch (err) {
      if (this.state === 'upgrading') this.state = 'serving'
      throw err
    }
  }

  /**
   * Shuts this process down gracefully: stops a successor that is booting, drains, runs the
   * atExit hooks, closes the apps. Resolves when done; the caller exits.
   */
  shutdown (): Promise<void> {
    return this.finish('shutdown', undefined)
  }

  /** The successor is ready: drains, runs the atExit hooks, closes the apps, exits 0. */
  handOver (order: ReadyOrder, handover?: Handover): void {
    this.finish('upgrade', order, handover).catch(/* c8 ignore next: retire() does not reject */ () => {})
  }

  /** Flushes the log, then ends the process. */
  async exit (code: number): Promise<void> {
    await settleLogger(this.log)
    this.seam.exit(code)
  }

  private finish (reason: 'upgrade' | 'shutdown', upgrade: ReadyOrder | undefined, handover?: Handover): Promise<void> {
    this.closing ??= (async () => {
      if (this.successor !== undefined) {
        this.log.info({ event: 'upgrade.aborted', successorPid: this.successor.pid }, 'hot-restart: stopping the successor that is booting')
        await this.successor.kill()
      }
      this.state = 'draining'
      this.removeSignal()
      const listeners = [...this.sockets.listeners]
      await retire({
        reason,
        upgrade,
        handover,
        generation: this.generation,
        sockets: this.sockets,
        apps: this.participants.keys(),
        drainHooks: this.drainHooks,
        atExitHooks: this.atExitHooks,
        options: this.options,
        log: this.log,
        arriving: this.mode.predecessor?.handingOver === true ? this.mode.predecessor.exited : undefined, // it may still move connections here
        closed: () => {
          if (reason === 'shutdown') this.mode.shutDown(listeners)
          this.dispose()
        }
      })
      if (reason === 'upgrade') await this.exit(0)
    })()
    return this.closing
  }

  /** Removes everything this upgrader installed in the process (signal handler, listen hook). */
  dispose (): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.removeSignal()
    this.removeListenHook()
    for (const dispose of this.disposers.splice(0)) dispose()
  }

  /** Adds something to undo when this upgrader is disposed of. */
  onDispose (fn: () => void): void {
    this.disposers.push(fn)
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
