/**
 * The supervisor's processes: spawning the workers of a generation on the sockets it holds,
 * following each until ready, dispatching their messages, sending them orders. The supervisor's
 * state machine (supervisor.ts) decides when.
 *
 * A generation is `workers` processes of the app on the same sockets (group.ts; the kernel spreads the
 * connections between them). Generation 1 binds as usual (its first worker alone; the others
 * then inherit what it bound), unless the supervisor bound `--listen` addresses itself; once
 * ready, a worker sends the supervisor a copy of each socket it serves (the handle, over the IPC
 * channel), so the supervisor always holds what the serving generation listens on.
 */
import { workerEnv } from './env-file'
import { startGroup, type Group, type GroupSpawner, type Worker } from './group'
import { ConnectionRelay } from './handover-relay'
import type { Logger } from './log'
import { FIRST_FD, MANIFEST_VERSION } from './manifest'
import type { Spawn } from './process-seam'
import { describeEntry, readGenerationMessage, STANDBY_ENV, SUPERVISOR_ENV, type GenerationMessage, type Held, type SocketEntry, type SupervisorMessage } from './protocol'
import { unlinkEntry } from './socket-kinds'
import { spawnSuccessor, type Successor } from './successor'

/** After a worker's exit, how long its IPC channel may take to close (ms); it closes at once unless a child of it holds it. */
const CHANNEL_GRACE = 1000

/** How a worker is started. */
export interface WorkerCommand {
  /** The app's command and arguments (`process.execPath`, `app.js`). */
  command: string
  args: string[]
  cwd: string
  readyTimeout: number
  log: Logger
  /** Starts a process (a fake one in tests). @default node:child_process spawn */
  spawn?: Spawn
  /** `--env-file`: read for each generation's start, its values laid over the supervisor's environment (env-file.ts). */
  envFile?: string
}

export interface WorkersOptions extends WorkerCommand {
  /** Processes per generation. */
  workers: number
  /** Sockets the supervisor bound itself (`--listen`). */
  listening: Held[]
  /** A worker has started (it has a pid). */
  started (pid: number, generation: number): void
  /** The group that serves now (a group that has emptied tells the one that replaced it). */
  serving (): Group | undefined
  /** A worker has exited (after its group's bookkeeping). */
  exited (worker: Worker, code: number | null, signal: NodeJS.Signals | null): void
  /** A worker sent a message that the supervisor acts on (an upgrade request). */
  message (worker: Worker, message: GenerationMessage): void
}

export class Workers implements GroupSpawner {
  /** The sockets held: what the serving generation listens on. */
  sockets: Held[]
  /** The last generation number given. */
  started = 0
  /** Every worker that has not exited. */
  readonly children = new Set<Worker>()
  /** Every worker that boots. */
  readonly booting = new Set<Successor>()
  /** The groups that were replaced and drain. */
  readonly draining = new Set<Group>()
  readonly options: WorkersOptions
  private readonly relay: ConnectionRelay
  private nice = 0 // the serving generation's successorNice (its "ready" says): its next workers boot that much lower
  private spare = false

  constructor (options: WorkersOptions) {
    this.options = options
    this.sockets = options.listening
    this.relay = new ConnectionRelay(options.log)
    this.count = options.workers
  }

  /** Processes per generation. */
  readonly count: number

  /** The pids of a group's workers. */
  pids (group: Group): number[] {
    return [...group.workers].map(w => w.pid)
  }

  /** The pids of the workers that drain. */
  drainingPids (): number[] {
    return [...this.draining].flatMap(g => this.pids(g))
  }

  /** `next` is ready and serves; `old` (if it still has workers) drains. Each side is told. */
  handOver (next: Group, old: Group | undefined, generation: number, readyMs: number): void {
    if (old === undefined || old.workers.size === 0) {
      for (const worker of next.workers) this.send(worker, { hotRestart: 'predecessor-exited' })
      return
    }
    next.predecessor = old
    this.draining.add(old)
    const [successor] = next.workers
    for (const worker of next.workers) this.send(worker, { hotRestart: 'predecessor', pid: this.pids(old)[0]! })
    for (const worker of old.workers) {
      this.send(worker, { hotRestart: 'drain', successorPid: successor!.pid, generation, signalToReadyMs: readyMs, relayCredits: true })
    }
  }

  /**
   * A worker of `group` has exited. Once the group has none left, the groups it was replaced by
   * learn that their predecessor has exited.
   */
  private left (worker: Worker, group: Group, serving: readonly Group[]): void {
    group.workers.delete(worker)
    if (group.workers.size > 0) return
    this.draining.delete(group)
    for (const other of [...serving, ...this.draining]) {
      if (other.predecessor !== group) continue
      other.predecessor = undefined
      for (const w of other.workers) this.send(w, { hotRestart: 'predecessor-exited' })
    }
  }

  /** The entries of `bound` that the sockets held do not serve (by address). */
  missing (bound: SocketEntry[]): SocketEntry[] {
    return bound.filter(entry => !this.sockets.some(held => describeEntry(held.entry) === describeEntry(entry)))
  }

  /** Closes the sockets held, and removes their unix socket paths. */
  closeSockets (): void {
    for (const { entry, handle } of this.sockets.splice(0)) {
      handle.close()
      unlinkEntry(entry)
    }
  }

  /**
   * Spawns one worker on the sockets held (none: it binds its own), with the environment `env`
   * (by default read now: a wrong env file rejects, nothing started); resolves once it is
   * ready, with the sockets it serves.
   */
  async spawnWorker (generation: number, siblings = new Set<Successor>(), env = workerEnv(this.options.envFile)): Promise<{ worker: Worker, received: Held[] }> {
    const { log } = this.options
    const spare = this.spare
    const entries = this.sockets.map(({ entry }, i) => ({ ...entry, fd: FIRST_FD + i }))
    const received: Held[] = []
    const successor = spawnSuccessor({
      manifest: this.sockets.length === 0 && generation === 1 ? undefined : { version: MANIFEST_VERSION, pid: process.pid, generation, cwd: this.options.cwd, sockets: entries },
      cwd: this.options.cwd,
      fds: this.sockets.map(({ handle }) => handle.fd),
      readyTimeout: this.options.readyTimeout,
      execPath: this.options.command,
      args: this.options.args,
      // the supervisor is systemd's main process: it notifies, its generations do not
      env: { ...env, NOTIFY_SOCKET: undefined, [SUPERVISOR_ENV]: String(process.pid), [STANDBY_ENV]: spare ? '1' : undefined },
      spawn: this.options.spawn,
      // a spare's priority is standby.ts's
      nice: spare ? 0 : this.nice,
      standby: spare
    })
    const child = successor.process
    const unbooted = (): void => {
      this.booting.delete(successor)
      siblings.delete(successor)
    }
    this.booting.add(successor)
    siblings.add(successor)
    // a command that cannot be started has no pid and never emits 'exit': its failure is all
    if (child.pid === undefined) await successor.ready.finally(unbooted)
    log.info({ event: 'supervisor.worker-started', generationPid: child.pid, generation }, 'hot-restart supervisor: generation started')
    if (!spare) this.options.started(child.pid as number, generation)
    const worker: Worker = { child, pid: child.pid as number, generation, group: undefined, exited: Promise.resolve(), exit: undefined }
    worker.exited = new Promise<void>(resolve => child.once('exit', (code, signal) => {
      const gone = (): void => {
        clearTimeout(timer)
        child.removeListener('disconnect', gone)
        worker.exit = { code, signal }
        this.children.delete(worker)
        const serving = this.options.serving()
        if (worker.group !== undefined) this.left(worker, worker.group, serving === undefined ? [] : [serving])
        this.options.exited(worker, code, signal)
        resolve()
      }
      // what it sent just before it exited (a connection handed over, to relay) may be unread
      // yet: its successors hear that it has gone once its channel has closed too
      const timer = child.connected ? setTimeout(gone, CHANNEL_GRACE) : undefined
      if (child.connected) child.once('disconnect', gone)
      else gone()
    }))
    this.children.add(worker)
    let booting = true
    child.on('message', (raw: unknown, handle: Held['handle'] | undefined) => {
      // a draining worker's kept-alive connections go to the serving generation (handover-relay.ts)
      const serving = this.options.serving()
      if (this.relay.forward(raw, handle, worker.group === serving ? undefined : serving?.workers, child)) return
      booting = this.dispatch(worker, raw, handle, booting, received)
    })
    try {
      this.nice = (await successor.ready).successorNice ?? 0
    } catch (err) {
      /* c8 ignore next: a worker sends its sockets right before it says ready */
      for (const { handle } of received) handle.close()
      throw err
    } finally {
      unbooted()
    }
    return { worker, received }
  }

  /** As spawnWorker, for a hot standby's spare (standby.ts): it resolves once the spare stands by. */
  spawnSpare (generation: number, siblings: Set<Successor>): Promise<{ worker: Worker, received: Held[] }> {
    this.spare = true
    try { return this.spawnWorker(generation, siblings) } finally { this.spare = false }
  }

  /**
   * A worker's message. Sockets are taken only while it boots (it sends them right before it says
   * ready), each with its handle; anything else that comes with a handle is closed, never held.
   * @returns whether the worker still boots
   */
  private dispatch (worker: Worker, raw: unknown, handle: Held['handle'] | undefined, booting: boolean, received: Held[]): boolean {
    const { log } = this.options
    const reading = readGenerationMessage(raw)
    if (reading !== undefined && 'rejected' in reading) {
      log.warn({ event: 'protocol.rejected', from: 'generation', generationPid: worker.pid, why: reading.rejected },
        `hot-restart supervisor: ignored a message from pid ${worker.pid}: ${reading.rejected}`)
    }
    const message = reading !== undefined && 'message' in reading ? reading.message : undefined
    if (message?.hotRestart === 'socket' && booting && handle !== undefined) {
      received.push({ entry: message.entry, handle })
      return booting
    }
    if (message?.hotRestart === 'socket') {
      log.warn({ event: 'supervisor.rejected', generationPid: worker.pid, generation: worker.generation, afterReady: !booting, withHandle: handle !== undefined },
        `hot-restart supervisor: ignored a socket from pid ${worker.pid}: sockets are taken only with their handle, before ready`)
    } else if (message !== undefined) {
      this.options.message(worker, message)
    }
    handle?.close()
    return booting && message?.hotRestart !== 'ready'
  }

  /** Spawns a generation of `count` workers, all or nothing (group.ts). */
  async spawnGroup (): Promise<Group> {
    // read before anything starts: a wrong env file rejects with nothing spawned
    return await startGroup(this, workerEnv(this.options.envFile))
  }

  /** The sockets held become `received` (a new generation's); the ones held before are closed. */
  adopt (received: Held[]): void {
    for (const { handle } of this.sockets) handle.close()
    this.sockets = [...received] // a copy: the worker's own list is never the supervisor's
  }

  /** Kills every worker (SIGKILL); resolves once all have exited. */
  async killAll (): Promise<void> {
    for (const worker of this.children) worker.child.kill('SIGKILL')
    await Promise.all([...this.children].map(w => w.exited))
  }

  send (worker: Worker, message: SupervisorMessage): void {
    // with a callback, a worker that exits meanwhile (EPIPE) is no 'error' event
    if (worker.child.connected) worker.child.send(message, () => {})
  }
}
