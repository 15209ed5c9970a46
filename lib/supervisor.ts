/**
 * Supervised mode (`fastify-hot-restart run -- node app.js`): a small process with a stable pid
 * that starts each generation of the app and keeps a copy of its listening sockets. This file is
 * its state machine; workers.ts spawns the processes (`workers` per generation, on the same
 * sockets) and holds the copies of the sockets they hand back once ready.
 *
 * - Reload (SIGHUP, SIGUSR2, or a worker's `upgrade()`): the next generation is spawned on
 *   those sockets with the standalone protocol (manifest, fds 3, 4, ...; the supervisor is its
 *   parent, so the manifest is trusted); once all its workers are ready, every worker of the
 *   serving generation is told to drain, which runs the upgrader's own drain, atExit hooks and
 *   close. If one worker fails, the whole new generation goes (the ready ones drain, the others
 *   are killed) and the serving one serves on. Outcomes go to the status file, for the CLI.
 * - Crash restart: if a serving worker exits without being asked to, a new one starts on the
 *   same sockets (the next generation number); meanwhile the other workers serve, and with none
 *   the kernel queues new connections (nobody refuses them: the supervisor holds the sockets).
 *   Restarts back off (crash-restart.ts, backoff.ts); past `maxRestarts` within RESTART_WINDOW the supervisor
 *   gives up (exit 1). A reload meanwhile is refused (CRASH_RESTART).
 * - Stop: every worker shuts down gracefully; `force()` kills them.
 * Invariants as in upgrader.ts, with the same refusal rules and attempt record (attempts.ts):
 * at most two generations, at most one not ready; one reload at a time; the sockets stay open
 * while any worker is alive; every child is waited for.
 */
import { AttemptLog, refusal, type Phase } from './attempts'
import { CrashRestarts } from './crash-restart'
import type { Logger } from './log'
import { removeIfOurs, writeServing, writeStatus } from './pid-file'
import { describeEntry, type GenerationMessage, type Held, type UpgradeResult } from './protocol'
import { rollOver } from './rolling'
import { unlinkEntry } from './socket-kinds'
import { Standby, type StandbyOptions } from './standby'
import { monotonicUsec, notifySystemd } from './systemd'
import type { Group, Worker } from './group'
import { Workers, type WorkerCommand } from './workers'

export type { Held }

export interface SupervisorOptions extends WorkerCommand {
  /** The supervisor's pid file (its own pid) and status file. */
  pidFile: string | undefined
  /** How many crash restarts within RESTART_WINDOW before giving up. */
  maxRestarts: number
  /** Processes per generation. @default 1 */
  workers?: number
  /** Sockets the supervisor bound itself (`--listen`); generation 1 must serve each of them. */
  listening?: Held[]
  /** On stop, how long each generation serves on before it drains (`--stop-delay`, see stop-delay.ts). @default 0 (ms) */
  stopDelay?: number
  /** `--rolling`: a reload replaces the workers one at a time (rolling.ts). @default false */
  rolling?: boolean
  /** Keep a booted spare that takes over from a worker that crashes (`--standby`, standby.ts); with a fake priority in tests. */
  standby?: boolean | StandbyOptions['standby']
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
  private readonly workers: Workers
  private readonly standby: Standby | undefined
  private readonly attempts = new AttemptLog(() => this.writeStatusFile())
  private readonly restarts: CrashRestarts
  private stopping: Promise<void> | undefined
  private forced = false
  private notified = Promise.resolve()
  private readonly options: SupervisorOptions
  private readonly log: Logger
  /** Resolves with the supervisor's exit code once every worker has exited. */
  readonly done: Promise<number>
  private finished!: (code: number) => void

  constructor (options: SupervisorOptions) {
    this.options = options
    this.log = options.log
    this.workers = new Workers({
      ...options,
      workers: options.workers ?? 1,
      listening: options.listening ?? [],
      // for `reload`'s progress: the pid that boots
      started: (pid, generation) => {
        if (this.state === 'reloading' && this.attempts.attempts[this.attempts.attempt]?.successorPid === undefined) this.attempts.record(this.attempts.attempt, { state: 'upgrading', successorPid: pid, generation })
      },
      serving: () => this.current,
      exited: (worker, code, signal) => this.exited(worker, code, signal),
      message: (worker, message) => this.onMessage(worker, message)
    })
    this.done = new Promise(resolve => { this.finished = resolve })
    const { standby = false } = options
    this.standby = standby === false ? undefined : new Standby({ ...options, standby, workers: this.workers, active: () => this.state !== 'stopping' })
    this.restarts = new CrashRestarts({
      workers: this.workers,
      standby: this.standby,
      maxRestarts: options.maxRestarts,
      log: this.log,
      current: () => this.current!,
      stopping: () => this.state === 'stopping',
      began: () => { this.state = 'restarting' },
      restarted: generation => {
        this.generation = generation
        if (this.state === 'restarting' && this.restarts.idle) this.state = 'serving'
        this.writeStatusFile()
      },
      giveUp: () => { this.stop(1).catch(/* c8 ignore next */ () => {}) }
    })
  }

  /**
   * Starts generation 1; rejects (the caller then stops everything) if it does not become
   * ready, or does not serve a socket that the supervisor bound.
   */
  async start (): Promise<void> {
    const bound = this.workers.sockets.map(({ entry }) => entry)
    const first = await this.workers.spawnGroup()
    // stopped after generation 1 was ready but before this went on: it is told to shut down
    // already; serving it now would take its exit for a crash and restart it
    if ((this.state as SupervisorState) === 'stopping') return
    this.generation = first.generation
    this.serve(first, undefined)
    const held = this.workers.sockets
    // what generation 1 handed back replaced what was bound (it always hands back something:
    // with nothing received, the sockets held stay the bound ones)
    const missing = this.workers.missing(bound)
    if (missing.length > 0) {
      // the supervisor's handle is closed: a path bound for --listen that nobody serves goes too
      for (const entry of missing) unlinkEntry(entry)
      throw new Error(`generation 1 does not listen on ${missing.map(describeEntry).join(', ')} (--listen): it listens on ${held.map(h => describeEntry(h.entry)).join(', ')}; ` +
        'the app must listen on the same host and port (or path) as --listen')
    }
    if (this.options.pidFile !== undefined) writeServing(this.options.pidFile, process.pid, this.generation)
    this.writeStatusFile() // with the attempts already counted (refused while starting)
    await this.notify('READY=1')
    const pids = this.workers.pids(first)
    this.log.info({ event: 'supervisor.serving', pid: process.pid, servingPid: pids[0], servingPids: pids, generation: 1, sockets: held.length },
      'hot-restart supervisor: serving')
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
    this.workers.handOver(next, old, this.generation, readyMs)
    this.standby?.renew()
  }

  /** A worker's message (the sockets it hands back are taken in workers.ts). */
  private onMessage (worker: Worker, message: GenerationMessage): void {
    // an upgrade request (its reload signal or `upgrade()`): run it, answer
    if (message.hotRestart !== 'upgrade') return
    const id = message.id
    this.reload(`generation ${worker.generation} (pid ${worker.pid})`).then(
      result => this.workers.send(worker, { hotRestart: 'upgraded', id, result }),
      (err: Error & { code?: string }) => this.workers.send(worker, { hotRestart: 'upgraded', id, error: { code: err.code, message: err.message } }))
  }

  /**
   * Writes the status file (for the CLI). A write that fails (a full disk, a path taken) is
   * logged and changes nothing else: it never throws into a reload or a crash restart.
   */
  private writeStatusFile (): void {
    if (this.options.pidFile === undefined || this.state === 'stopping') return
    const servingPids = this.current === undefined ? [] : this.workers.pids(this.current)
    try {
      writeStatus(this.options.pidFile, {
        pid: process.pid, generation: this.generation, attempt: this.attempts.attempt, attempts: this.attempts.attempts, state: this.state, servingPids, draining: this.workers.drainingPids()
      })
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
    const draining = this.workers.drainingPids()
    const refused = refusal({ phase: PHASE[this.state], predecessorDraining: draining.length > 0 ? draining.join(', ') : undefined })
    if (refused !== undefined) {
      const code = this.attempts.refused(attempt, refused)
      this.log.warn({ event: 'supervisor.reload.refused', code, trigger }, `hot-restart supervisor: reload refused: ${refused.message}`)
      throw refused
    }
    this.state = 'reloading'
    this.attempts.record(attempt, { state: 'upgrading' })
    const started = performance.now()
    const generation = this.workers.started + 1
    this.log.info({ event: 'supervisor.reload.started', trigger, generation }, 'hot-restart supervisor: reload started')
    void this.notify('RELOADING=1', `MONOTONIC_USEC=${monotonicUsec()}`)
    let next: Group
    const old = this.current!
    try {
      next = this.options.rolling === true
        ? await rollOver(this.workers, old, { serving: group => { this.current = group }, stopping: () => this.state === 'stopping', started, log: this.log })
        : await this.workers.spawnGroup()
    } catch (err) {
      const e = err as Error & { code?: string, cause?: unknown }
      if ((this.state as SupervisorState) === 'stopping') throw err
      this.state = 'serving'
      this.attempts.record(attempt, { state: 'failed', code: e.code, message: e.message, generation })
      this.log.error({ event: 'supervisor.reload.failed', err: e, code: e.code, generation, details: e.cause }, `hot-restart supervisor: reload failed; still serving: ${e.message}`)
      // workers that crashed meanwhile are replaced now
      if (this.current!.workers.size < this.workers.count) this.restarts.restart()
      void this.notify('READY=1')
      throw err
    }
    this.generation = next.generation
    const readyMs = Math.round(performance.now() - started)
    const pids = this.workers.pids(next)
    this.serve(next, old, readyMs)
    // a rolling reload's new worker that crashed meanwhile (a plain reload fails instead)
    if (next.workers.size < this.workers.count) this.restarts.restart()
    this.log.info({ event: 'supervisor.reload.ready', servingPid: pids[0], servingPids: pids, generation, readyMs, drainingPid: this.workers.pids(old)[0], drainingPids: this.workers.pids(old) },
      'hot-restart supervisor: reloaded')
    this.attempts.record(attempt, { state: 'succeeded', successorPid: pids[0], generation })
    void this.notify('READY=1')
    return { pid: pids[0]!, generation, readyMs }
  }

  private exited (worker: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    // a worker that never became ready: its spawn reports the failure
    if (worker.group === undefined || worker.group !== this.current || this.state === 'stopping') return
    this.log.error({ event: 'supervisor.crashed', generationPid: worker.pid, generation: worker.generation, exitCode: code, signal },
      'hot-restart supervisor: the serving generation exited unexpectedly; starting the next one on the same sockets')
    // during a reload: a new generation takes over, or the reload fails and restarts what is missing
    if (this.state !== 'reloading') this.restarts.restart()
  }

  /**
   * Stops gracefully: a worker that boots is killed, the others drain, run their atExit hooks
   * and exit; then the sockets are closed and the pid file removed. Resolves when done.
   */
  stop (code = 0): Promise<void> {
    this.stopping ??= (async () => {
      this.state = 'stopping'
      this.restarts.cancel()
      const children = this.workers.children
      this.log.info({ event: 'supervisor.stopping', generations: [...children].map(w => w.pid) }, 'hot-restart supervisor: stopping')
      void this.notify('STOPPING=1')
      await Promise.all([...this.workers.booting].map(s => s.kill()))
      for (const worker of children) this.workers.send(worker, { hotRestart: 'shutdown', stopDelay: this.options.stopDelay ?? 0 })
      await Promise.all([...children].map(w => w.exited))
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
    this.restarts.cancel()
    this.log.warn({ event: 'supervisor.forced', generations: [...this.workers.children].map(w => w.pid) }, 'hot-restart supervisor: forced stop; killing every generation')
    this.workers.killAll().then(() => {
      this.close()
      this.finished(1)
    })
  }

  private close (): void {
    this.standby?.stop()
    this.workers.closeSockets()
    if (this.options.pidFile !== undefined) removeIfOurs(this.options.pidFile, process.pid)
  }
}
