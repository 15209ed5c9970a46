/**
 * The supervisor's processes: spawning the workers of a generation on the sockets it holds,
 * following each until ready, dispatching their messages, sending them orders. The supervisor's
 * state machine (supervisor.ts) decides when.
 *
 * A generation is `workers` processes of the app on the same sockets (the kernel spreads the
 * connections between them). Generation 1 binds as usual (its first worker alone; the others
 * then inherit what it bound), unless the supervisor bound `--listen` addresses itself; once
 * ready, a worker sends the supervisor a copy of each socket it serves (the handle, over the IPC
 * channel), so the supervisor always holds what the serving generation listens on.
 */
import type { ChildProcess } from 'node:child_process'
import { workerEnv } from './env-file'
import { SuccessorExitedError } from './errors'
import { ConnectionRelay } from './handover-relay'
import type { Logger } from './log'
import { FIRST_FD, MANIFEST_VERSION } from './manifest'
import type { Spawn } from './process-seam'
import { describeEntry, readGenerationMessage, STANDBY_ENV, SUPERVISOR_ENV, type GenerationMessage, type Held, type SocketEntry, type SupervisorMessage } from './protocol'
import { unlinkEntry } from './socket-kinds'
import { spawnSuccessor, type Successor } from './successor'

/** One process of the app. */
export interface Worker {
  child: ChildProcess
  pid: number
  generation: number
  /** The generation it serves in; set once it is ready. */
  group: Group | undefined
  exited: Promise<void>
  /** How it exited, once it has. */
  exit: { code: number | null, signal: NodeJS.Signals | null } | undefined
}

/** The ready workers of one reload (or of the first start), and the crash restarts that joined them. */
export interface Group {
  /** The generation number it started as (crash restarts that join it have the next ones). */
  generation: number
  workers: Set<Worker>
  /** The group it replaces, while that one drains. */
  predecessor: Group | undefined
}

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

export class Workers {
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
      this.send(worker, { hotRestart: 'drain', successorPid: successor!.pid, generation, signalToReadyMs: readyMs })
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
      worker.exit = { code, signal }
      this.children.delete(worker)
      const serving = this.options.serving()
      if (worker.group !== undefined) this.left(worker, worker.group, serving === undefined ? [] : [serving])
      this.options.exited(worker, code, signal)
      resolve()
    }))
    this.children.add(worker)
    let booting = true
    child.on('message', (raw: unknown, handle: Held['handle'] | undefined) => {
      // a draining worker's kept-alive connections go to the serving generation (handover-relay.ts)
      const serving = this.options.serving()
      if (this.relay.forward(raw, handle, worker.group === serving ? undefined : serving?.workers)) return
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

  /**
   * Spawns a generation of `workers` processes with one environment (a wrong env file rejects
   * before anything starts); resolves once all are ready. If one fails, the others go too (the
   * ready ones drain, as in a shutdown) and it rejects with that failure. Then the sockets held
   * are the ones the new generation serves.
   */
  async spawnGroup (): Promise<Group> {
    const env = workerEnv(this.options.envFile)
    const generation = ++this.started
    const group: Group = { generation, workers: new Set(), predecessor: undefined }
    const ready: Array<{ worker: Worker, received: Held[] }> = []
    const siblings = new Set<Successor>()
    const spawnOne = (): Promise<void> => this.spawnWorker(generation, siblings, env).then(r => { ready.push(r) })
    try {
      // with no socket to inherit, the first worker binds alone; the others inherit from it
      if (this.sockets.length === 0) {
        await spawnOne()
        this.adopt(ready[0]!.received)
        ready[0]!.received = []
      }
      const rest = Array.from({ length: this.count - ready.length }, spawnOne)
      let failure: { err: unknown } | undefined
      await Promise.all(rest.map(booted => booted.catch((err: unknown) => {
        // the first failure is the generation's: the workers still booting are killed now
        if (failure !== undefined) return
        failure = { err }
        for (const sibling of siblings) void sibling.kill()
      })))
      if (failure !== undefined) throw failure.err
      // a worker that said ready and exited while the others booted
      const gone = ready.find(r => r.worker.exit !== undefined)
      if (gone !== undefined) {
        const { code, signal } = gone.worker.exit!
        throw new SuccessorExitedError(gone.worker.pid, signal === null ? `exited with code ${code}` : `was killed by ${signal}`,
          ': it had said ready, but a generation is ready once all its workers are, and the others were still booting')
      }
    } catch (err) {
      for (const { worker, received } of ready) {
        for (const { handle } of received) handle.close()
        this.send(worker, { hotRestart: 'shutdown' })
      }
      throw err
    }
    for (const [i, { worker, received }] of ready.entries()) {
      // what the new generation listens on is what the next one inherits
      if (i === 0 && received.length > 0) this.adopt(received)
      else for (const { handle } of received) handle.close()
      worker.group = group
      group.workers.add(worker)
    }
    return group
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
