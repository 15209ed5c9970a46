/**
 * Supervised mode (`fastify-hot-restart run -- node app.js`): a small process with a stable pid
 * that starts each generation of the app and keeps a copy of its listening sockets.
 *
 * - A generation is `workers` processes of the app on the same sockets (the kernel spreads the
 *   connections between them). Generation 1 binds as usual (its first worker alone; the others
 *   then inherit what it bound), unless the supervisor bound `--listen` addresses itself; once
 *   ready, a worker sends the supervisor a copy of each socket it serves (the handle, over the
 *   IPC channel), so the supervisor always holds what the serving generation listens on.
 * - Reload (SIGHUP, SIGUSR2, or a worker's `upgrade()`): the next generation is spawned on
 *   those sockets with the standalone protocol (manifest, fds 3, 4, ...; the supervisor is its
 *   parent, so the manifest is trusted); once all its workers are ready, every worker of the
 *   serving generation is told to drain, which runs the upgrader's own drain, atExit hooks and
 *   close. If one worker fails, the whole new generation goes (the ready ones drain, the others
 *   are killed) and the serving one serves on. Outcomes go to the status file, for the CLI.
 * - Crash restart: if a serving worker exits without being asked to, a new one starts on the
 *   same sockets (the next generation number); meanwhile the other workers serve, and with none
 *   the kernel queues new connections (nobody refuses them: the supervisor holds the sockets).
 *   Restarts back off; past `maxRestarts` within RESTART_WINDOW the supervisor gives up (exit 1).
 * - Stop: every worker shuts down gracefully; `force()` kills them.
 * Invariants as in upgrader.ts: at most two generations, at most one not ready; one reload at
 * a time; the sockets stay open while any worker is alive; every child is waited for.
 */
import type { ChildProcess } from 'node:child_process'
import { AttemptLog, refusal, type Phase } from './attempts'
import { crashBackoff, RESTART_WINDOW } from './backoff'
import { SuccessorExitedError } from './errors'
import { ConnectionRelay } from './handover-relay'
import { FIRST_FD, MANIFEST_VERSION } from './manifest'
import { removeIfOurs, writeServing, writeStatus } from './pid-file'
import { unlinkEntry } from './socket-kinds'
import { spawnSuccessor, type Successor } from './successor'
import { describeEntry, readGenerationMessage, SUPERVISOR_ENV, type Held, type SupervisorMessage, type UpgradeResult } from './protocol'
import { monotonicUsec, notifySystemd } from './systemd'
import type { Logger } from './log'

export type { Held }

export interface SupervisorOptions {
  /** The app's command and arguments (`process.execPath`, `app.js`). */
  command: string
  args: string[]
  cwd: string
  /** The supervisor's pid file (its own pid) and status file. */
  pidFile: string | undefined
  readyTimeout: number
  /** How many crash restarts within RESTART_WINDOW before giving up. */
  maxRestarts: number
  /** Processes per generation. @default 1 */
  workers?: number
  /** Sockets the supervisor bound itself (`--listen`); generation 1 must serve each of them. */
  listening?: Held[]
  /** On stop, how long each generation serves on before it drains (`--stop-delay`, see stop-delay.ts). @default 0 (ms) */
  stopDelay?: number
  log: Logger
}

/** One process of the app. */
interface Worker {
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
interface Group {
  workers: Set<Worker>
  /** The group it replaces, while that one drains. */
  predecessor: Group | undefined
}

export type SupervisorState = 'starting' | 'serving' | 'reloading' | 'restarting' | 'stopping'

/** The supervisor's states in the words of the refusal rules (attempts.ts). */
const PHASE: Record<SupervisorState, Phase> = {
  starting: 'booting', serving: 'serving', reloading: 'upgrading', restarting: 'restarting', stopping: 'stopping'
}

export class Supervisor {
  state: SupervisorState = 'starting'
  /** The generation number of the newest worker that became ready (a reload's or a restart's). */
  generation = 0
  private current: Group | undefined
  private readonly draining = new Set<Group>()
  private readonly children = new Set<Worker>()
  private readonly booting = new Set<Successor>()
  private sockets: Held[]
  private readonly workers: number
  private started = 0
  private readonly attempts = new AttemptLog(() => this.writeStatusFile())
  private crashes: number[] = []
  private restartTimer: NodeJS.Timeout | undefined
  private restarting = 0
  private stopping: Promise<void> | undefined
  private forced = false
  private notified = Promise.resolve()
  private readonly options: SupervisorOptions
  private readonly log: Logger
  private readonly relay: ConnectionRelay
  /** Resolves with the supervisor's exit code once every worker has exited. */
  readonly done: Promise<number>
  private finished!: (code: number) => void

  constructor (options: SupervisorOptions) {
    this.options = options
    this.log = options.log
    this.relay = new ConnectionRelay(options.log)
    this.workers = options.workers ?? 1
    this.sockets = options.listening ?? []
    this.done = new Promise(resolve => { this.finished = resolve })
  }

  /**
   * Starts generation 1; rejects (the caller then stops everything) if it does not become
   * ready, or does not serve a socket that the supervisor bound.
   */
  async start (): Promise<void> {
    const bound = this.sockets.map(({ entry }) => entry)
    const first = await this.spawnGroup()
    this.serve(first, undefined)
    // what generation 1 handed back replaced what was bound (it always hands back something:
    // with nothing received, the sockets held stay the bound ones)
    const missing = bound.filter(entry => !this.sockets.some(held => describeEntry(held.entry) === describeEntry(entry)))
    if (missing.length > 0) {
      // the supervisor's handle is closed: a path bound for --listen that nobody serves goes too
      for (const entry of missing) unlinkEntry(entry)
      throw new Error(`generation 1 does not listen on ${missing.map(describeEntry).join(', ')} (--listen): it listens on ${this.sockets.map(h => describeEntry(h.entry)).join(', ')}; ` +
        'the app must listen on the same host and port (or path) as --listen')
    }
    if (this.options.pidFile !== undefined) writeServing(this.options.pidFile, process.pid, this.generation)
    this.writeStatusFile() // with the attempts already counted (refused while starting)
    await this.notify('READY=1')
    this.log.info({ event: 'supervisor.serving', pid: process.pid, servingPid: this.pids(first)[0], servingPids: this.pids(first), generation: 1, sockets: this.sockets.length },
      'hot-restart supervisor: serving')
  }

  private pids (group: Group): number[] {
    return [...group.workers].map(w => w.pid)
  }

  /**
   * Spawns one worker on the sockets held (none: it binds its own); resolves once it is ready,
   * with the sockets it serves.
   */
  private async spawnWorker (generation: number, siblings = new Set<Successor>()): Promise<{ worker: Worker, received: Held[] }> {
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
      env: { ...process.env, NOTIFY_SOCKET: undefined, [SUPERVISOR_ENV]: String(process.pid) }
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
    this.log.info({ event: 'supervisor.worker-started', generationPid: child.pid, generation }, 'hot-restart supervisor: generation started')
    // for `reload`'s progress: the pid that boots
    if (this.state === 'reloading' && this.attempts.attempts[this.attempts.attempt]?.successorPid === undefined) this.attempts.record(this.attempts.attempt, { state: 'upgrading', successorPid: child.pid, generation })
    const worker: Worker = { child, pid: child.pid as number, generation, group: undefined, exited: Promise.resolve(), exit: undefined }
    worker.exited = new Promise<void>(resolve => child.once('exit', (code, signal) => {
      worker.exit = { code, signal }
      this.exited(worker, code, signal)
      resolve()
    }))
    this.children.add(worker)
    // sockets are taken only while the worker boots (it sends them right before it says ready),
    // each with its handle; anything else that comes with a handle is closed, never held
    let booting = true
    child.on('message', (raw: unknown, handle: Held['handle'] | undefined) => {
      // a draining worker's kept-alive connections go to the serving generation (handover-relay.ts)
      if (this.relay.forward(raw, handle, worker.group === this.current ? undefined : this.current?.workers)) return
      const reading = readGenerationMessage(raw)
      if (reading !== undefined && 'rejected' in reading) {
        this.log.warn({ event: 'protocol.rejected', from: 'generation', generationPid: worker.pid, why: reading.rejected },
          `hot-restart supervisor: ignored a message from pid ${worker.pid}: ${reading.rejected}`)
      }
      const message = reading !== undefined && 'message' in reading ? reading.message : undefined
      if (message?.hotRestart === 'socket' && booting && handle !== undefined) {
        received.push({ entry: message.entry, handle })
        return
      }
      if (message?.hotRestart === 'ready') booting = false
      if (message?.hotRestart === 'upgrade') this.answer(worker, message.id)
      if (message?.hotRestart === 'socket') {
        this.log.warn({ event: 'supervisor.rejected', generationPid: worker.pid, generation, afterReady: !booting, withHandle: handle !== undefined },
          `hot-restart supervisor: ignored a socket from pid ${worker.pid}: sockets are taken only with their handle, before ready`)
      }
      handle?.close()
    })
    try {
      await successor.ready
    } catch (err) {
      /* c8 ignore next: a worker sends its sockets right before it says ready */
      for (const { handle } of received) handle.close()
      throw err
    } finally {
      unbooted()
    }
    return { worker, received }
  }

  /**
   * Spawns a generation of `workers` processes; resolves once all are ready. If one fails, the
   * others go too (the ready ones drain, as in a shutdown) and it rejects with that failure.
   * Then the sockets held are the ones the new generation serves.
   */
  private async spawnGroup (): Promise<Group> {
    const generation = ++this.started
    const group: Group = { workers: new Set(), predecessor: undefined }
    const ready: Array<{ worker: Worker, received: Held[] }> = []
    const siblings = new Set<Successor>()
    const spawnOne = (): Promise<void> => this.spawnWorker(generation, siblings).then(r => { ready.push(r) })
    try {
      // with no socket to inherit, the first worker binds alone; the others inherit from it
      if (this.sockets.length === 0) {
        await spawnOne()
        this.adopt(ready[0]!.received)
        ready[0]!.received = []
      }
      const rest = Array.from({ length: this.workers - ready.length }, spawnOne)
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
    this.generation = generation
    return group
  }

  private adopt (received: Held[]): void {
    for (const { handle } of this.sockets) handle.close()
    this.sockets = [...received] // a copy: the worker's own list is never the supervisor's
  }

  /** Tells systemd (if it listens), in order. */
  private notify (...assignments: string[]): Promise<void> {
    this.notified = this.notified.then(() => notifySystemd(assignments, this.log))
    return this.notified
  }

  /** `next` is ready: it serves; `old` (if it still serves) drains. */
  private serve (next: Group, old: Group | undefined, readyMs = 0): void {
    this.current = next
    this.state = 'serving'
    if (old === undefined || old.workers.size === 0) {
      for (const worker of next.workers) this.send(worker, { hotRestart: 'predecessor-exited' })
      return
    }
    next.predecessor = old
    this.draining.add(old)
    const [successor] = next.workers
    for (const worker of next.workers) this.send(worker, { hotRestart: 'predecessor', pid: this.pids(old)[0]! })
    for (const worker of old.workers) {
      this.send(worker, { hotRestart: 'drain', successorPid: successor!.pid, generation: this.generation, signalToReadyMs: readyMs })
    }
  }

  private send (worker: Worker, message: SupervisorMessage): void {
    // with a callback, a worker that exits meanwhile (EPIPE) is no 'error' event
    if (worker.child.connected) worker.child.send(message, () => {})
  }

  /** A worker asked for an upgrade (its reload signal or `upgrade()`): run it, answer. */
  private answer (worker: Worker, id: number): void {
    this.reload(`generation ${worker.generation} (pid ${worker.pid})`).then(
      result => this.send(worker, { hotRestart: 'upgraded', id, result }),
      (err: Error & { code?: string }) => this.send(worker, { hotRestart: 'upgraded', id, error: { code: err.code, message: err.message } }))
  }

  /**
   * Writes the status file (for the CLI). A write that fails (a full disk, a path taken) is
   * logged and changes nothing else: it never throws into a reload or a crash restart.
   */
  private writeStatusFile (): void {
    if (this.options.pidFile === undefined || this.state === 'stopping') return
    const servingPids = this.current === undefined ? [] : this.pids(this.current)
    const draining = [...this.draining].flatMap(g => this.pids(g))
    try {
      writeStatus(this.options.pidFile, { pid: process.pid, generation: this.generation, attempt: this.attempts.attempt, attempts: this.attempts.attempts, state: this.state, servingPids, draining })
    } catch (err) {
      this.log.error({ event: 'supervisor.status-file.failed', err, pidFile: this.options.pidFile },
        `hot-restart supervisor: could not write the status file: ${(err as Error).message}`)
    }
  }

  /**
   * Starts the next generation on the same sockets; once it is ready, the serving one drains.
   * Rejects with a coded error, the serving generation serving on, if refused or failed.
   */
  async reload (trigger: string): Promise<UpgradeResult> {
    const attempt = this.attempts.next()
    const draining = [...this.draining].flatMap(g => this.pids(g))
    const refused = refusal({ phase: PHASE[this.state], predecessorDraining: draining.length > 0 ? draining.join(', ') : undefined })
    if (refused !== undefined) {
      const code = this.attempts.refused(attempt, refused)
      this.log.warn({ event: 'supervisor.reload.refused', code, trigger }, `hot-restart supervisor: reload refused: ${refused.message}`)
      throw refused
    }
    this.state = 'reloading'
    this.attempts.record(attempt, { state: 'upgrading' })
    const started = performance.now()
    const generation = this.started + 1
    this.log.info({ event: 'supervisor.reload.started', trigger, generation }, 'hot-restart supervisor: reload started')
    void this.notify('RELOADING=1', `MONOTONIC_USEC=${monotonicUsec()}`)
    let next: Group
    try {
      next = await this.spawnGroup()
    } catch (err) {
      const e = err as Error & { code?: string, cause?: unknown }
      if ((this.state as SupervisorState) === 'stopping') throw err
      this.state = 'serving'
      this.log.error({ event: 'supervisor.reload.failed', err: e, code: e.code, generation, details: e.cause }, `hot-restart supervisor: reload failed; still serving: ${e.message}`)
      this.attempts.record(attempt, { state: 'failed', code: e.code, message: e.message, generation })
      // workers that crashed meanwhile are replaced now
      if (this.current!.workers.size < this.workers) this.restart()
      void this.notify('READY=1')
      throw err
    }
    const readyMs = Math.round(performance.now() - started)
    const old = this.current!
    const pids = this.pids(next)
    this.serve(next, old, readyMs)
    this.log.info({ event: 'supervisor.reload.ready', servingPid: pids[0], servingPids: pids, generation, readyMs, drainingPid: this.pids(old)[0], drainingPids: this.pids(old) },
      'hot-restart supervisor: reloaded')
    this.attempts.record(attempt, { state: 'succeeded', successorPid: pids[0], generation })
    void this.notify('READY=1')
    return { pid: pids[0]!, generation, readyMs }
  }

  private exited (worker: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    this.children.delete(worker)
    const group = worker.group
    // a worker that never became ready: its spawn reports the failure
    if (group === undefined) return
    group.workers.delete(worker)
    if (group.workers.size === 0) {
      this.draining.delete(group)
      for (const other of [this.current, ...this.draining]) {
        if (other?.predecessor !== group) continue
        other.predecessor = undefined
        for (const w of other.workers) this.send(w, { hotRestart: 'predecessor-exited' })
      }
    }
    if (group !== this.current || this.state === 'stopping') return
    this.log.error({ event: 'supervisor.crashed', generationPid: worker.pid, generation: worker.generation, exitCode: code, signal },
      'hot-restart supervisor: the serving generation exited unexpectedly; starting the next one on the same sockets')
    // during a reload: a new generation takes over, or the reload fails and restarts what is missing
    if (this.state !== 'reloading') this.restart()
  }

  /**
   * A serving worker crashed, or its restart failed: starts new workers for the missing ones,
   * with backoff; gives up past maxRestarts.
   */
  private restart (): void {
    const { crashes, delay } = crashBackoff(this.crashes, performance.now(), this.options.maxRestarts)
    this.crashes = crashes
    if (delay === undefined) {
      this.log.error({ event: 'supervisor.gave-up', crashes: this.crashes.length, maxRestarts: this.options.maxRestarts, windowMs: RESTART_WINDOW },
        'hot-restart supervisor: too many crashes; giving up')
      this.stop(1).catch(/* c8 ignore next */ () => {})
      return
    }
    this.state = 'restarting'
    if (this.restartTimer !== undefined) return // it starts every missing worker
    const started = performance.now()
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined
      const group = this.current!
      const missing = this.workers - group.workers.size - this.restarting
      for (let i = 0; i < missing; i++) this.restartOne(group, delay, started)
    }, delay)
  }

  private restartOne (group: Group, delay: number, started: number): void {
    this.restarting++
    const generation = ++this.started
    this.spawnWorker(generation).then(({ worker, received }) => {
      this.restarting--
      for (const { handle } of received) handle.close() // the same sockets as those held
      worker.group = group
      group.workers.add(worker)
      this.generation = generation
      this.send(worker, { hotRestart: 'predecessor-exited' })
      if (this.state === 'restarting' && this.restarting === 0 && this.restartTimer === undefined) this.state = 'serving'
      this.writeStatusFile()
      this.log.info({ event: 'supervisor.restarted', servingPid: worker.pid, generation, delayMs: delay, downMs: Math.round(performance.now() - started + delay) },
        'hot-restart supervisor: restarted after a crash')
    }, (err: Error & { code?: string }) => {
      this.restarting--
      if (this.state === 'stopping') return
      this.log.error({ event: 'supervisor.restart.failed', err, code: err.code, generation }, `hot-restart supervisor: the restart failed: ${err.message}`)
      this.restart()
    })
  }

  /**
   * Stops gracefully: a worker that boots is killed, the others drain, run their atExit hooks
   * and exit; then the sockets are closed and the pid file removed. Resolves when done.
   */
  stop (code = 0): Promise<void> {
    this.stopping ??= (async () => {
      this.state = 'stopping'
      clearTimeout(this.restartTimer)
      this.log.info({ event: 'supervisor.stopping', generations: [...this.children].map(w => w.pid) }, 'hot-restart supervisor: stopping')
      void this.notify('STOPPING=1')
      await Promise.all([...this.booting].map(s => s.kill()))
      for (const worker of this.children) this.send(worker, { hotRestart: 'shutdown', stopDelay: this.options.stopDelay ?? 0 })
      await Promise.all([...this.children].map(w => w.exited))
      this.close()
      this.log.info({ event: 'supervisor.stopped', exitCode: this.forced ? 1 : code }, 'hot-restart supervisor: stopped')
      this.finished(this.forced ? 1 : code)
    })()
    return this.stopping
  }

  /** Kills every worker (SIGKILL) and closes everything at once: the second signal. */
  force (): void {
    this.forced = true
    this.state = 'stopping'
    clearTimeout(this.restartTimer)
    this.log.warn({ event: 'supervisor.forced', generations: [...this.children].map(w => w.pid) }, 'hot-restart supervisor: forced stop; killing every generation')
    for (const worker of this.children) worker.child.kill('SIGKILL')
    Promise.all([...this.children].map(w => w.exited)).then(() => {
      this.close()
      this.finished(1)
    })
  }

  private close (): void {
    for (const { entry, handle } of this.sockets.splice(0)) {
      handle.close()
      unlinkEntry(entry)
    }
    if (this.options.pidFile !== undefined) removeIfOurs(this.options.pidFile, process.pid)
  }
}
