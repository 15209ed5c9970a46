/**
 * Supervised mode (`fastify-hot-restart run -- node app.js`): a small process with a stable pid
 * that starts each generation of the app and keeps a copy of its listening sockets.
 *
 * - Generation 1 binds as usual; once ready it sends the supervisor a copy of each listening
 *   socket (the handle, over the IPC channel). Each later generation does the same, so the
 *   supervisor always holds what the serving generation listens on.
 * - Reload (SIGHUP, SIGUSR2, or a generation's `upgrade()`): the next generation is spawned on
 *   those sockets with the standalone protocol (manifest, fds 3, 4, ...; the supervisor is its
 *   parent, so the manifest is trusted); once it is ready the serving generation is told to
 *   drain, which runs the upgrader's own drain, atExit hooks and close. A successor that fails
 *   is killed and the serving generation serves on. Outcomes go to the status file, for the CLI.
 * - Crash restart: if the serving generation exits without being asked to, the next one starts
 *   on the same sockets; meanwhile the kernel queues new connections (nobody refuses them, as
 *   the supervisor holds the sockets open). Restarts back off; past `maxRestarts` within
 *   RESTART_WINDOW the supervisor gives up and exits 1.
 * - Stop: every generation shuts down gracefully; `force()` kills them.
 * Invariants as in upgrader.ts: at most two generations, at most one not ready; one reload at
 * a time; the sockets stay open while any generation is alive; every child is waited for.
 */
import type { ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'
import { NotReadyError, PredecessorDrainingError, ShuttingDownError, UpgradeInProgressError } from './errors'
import { FIRST_FD, MANIFEST_VERSION, type SocketEntry } from './manifest'
import { removeIfOurs, writeServing, writeStatus, type AttemptStatus } from './pid-file'
import { spawnSuccessor } from './successor'
import { SUPERVISOR_ENV, type SupervisorMessage } from './supervised'
import { monotonicUsec, notifySystemd } from './systemd'
import type { Logger, UpgradeResult } from './upgrader'

/** Crashes older than this (ms) no longer count towards `maxRestarts`. */
export const RESTART_WINDOW = 60_000
/** The longest wait between two restarts (ms). */
export const MAX_BACKOFF = 5_000

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
  log: Logger
}

/** A socket handle received from a generation (a libuv TCP or Pipe handle, not listening here). */
interface Held { entry: SocketEntry, handle: { fd: number, close (): void } }

interface Generation {
  child: ChildProcess
  pid: number
  generation: number
  /** The generation it replaces, while that one drains. */
  predecessor: Generation | undefined
  exited: Promise<void>
  alive: boolean
}

export type SupervisorState = 'starting' | 'serving' | 'reloading' | 'restarting' | 'stopping'

export class Supervisor {
  state: SupervisorState = 'starting'
  /** The generation number of the serving generation (the last one that became ready). */
  generation = 0
  private current: Generation | undefined
  private readonly draining = new Set<Generation>()
  private readonly children = new Set<Generation>()
  private booting: { kill (): Promise<void> } | undefined
  private sockets: Held[] = []
  private attempt = 0
  private readonly attempts: Record<string, AttemptStatus> = {}
  private crashes: number[] = []
  private restartTimer: NodeJS.Timeout | undefined
  private stopping: Promise<void> | undefined
  private forced = false
  private notified = Promise.resolve()
  private readonly options: SupervisorOptions
  private readonly log: Logger
  /** Resolves with the supervisor's exit code once every generation has exited. */
  readonly done: Promise<number>
  private finished!: (code: number) => void

  constructor (options: SupervisorOptions) {
    this.options = options
    this.log = options.log
    this.done = new Promise(resolve => { this.finished = resolve })
  }

  /** Starts generation 1; rejects (after stopping everything) if it does not become ready. */
  async start (): Promise<void> {
    const first = await this.spawn(1)
    this.serve(first)
    if (this.options.pidFile !== undefined) writeServing(this.options.pidFile, process.pid, first.generation)
    this.writeStatusFile() // with the attempts already counted (refused while starting)
    await this.notify('READY=1')
    this.log.info({ pid: process.pid, servingPid: first.pid, generation: 1, sockets: this.sockets.length }, 'hot-restart supervisor: serving')
  }

  /** Spawns a generation on the sockets held; resolves once it is ready. */
  private async spawn (generation: number): Promise<Generation> {
    const entries = this.sockets.map(({ entry }, i) => ({ ...entry, fd: FIRST_FD + i }))
    const received: Held[] = []
    const successor = spawnSuccessor({
      manifest: generation === 1 ? undefined : { version: MANIFEST_VERSION, pid: process.pid, generation, cwd: this.options.cwd, sockets: entries },
      cwd: this.options.cwd,
      fds: this.sockets.map(({ handle }) => handle.fd),
      readyTimeout: this.options.readyTimeout,
      execPath: this.options.command,
      args: this.options.args,
      // the supervisor is systemd's main process: it notifies, its generations do not
      env: { ...process.env, NOTIFY_SOCKET: undefined, [SUPERVISOR_ENV]: String(process.pid) }
    })
    const child = successor.process
    // a command that cannot be started has no pid and never emits 'exit': its failure is all
    this.booting = successor
    if (child.pid === undefined) await successor.ready.finally(() => { this.booting = undefined })
    this.log.info({ generationPid: child.pid, generation }, 'hot-restart supervisor: generation started')
    const gen: Generation = { child, pid: child.pid as number, generation, predecessor: undefined, alive: true, exited: Promise.resolve() }
    gen.exited = new Promise<void>(resolve => child.once('exit', (code, signal) => {
      gen.alive = false
      this.exited(gen, code, signal)
      resolve()
    }))
    this.children.add(gen)
    child.on('message', (message: { hotRestart?: string, entry?: SocketEntry, id?: number }, handle: unknown) => {
      if (message?.hotRestart === 'socket' && handle !== undefined) received.push({ entry: message.entry as SocketEntry, handle: handle as Held['handle'] })
      if (message?.hotRestart === 'upgrade') this.answer(gen, message.id as number)
    })
    try {
      await successor.ready
    } catch (err) {
      /* c8 ignore next: a generation sends its sockets right before it says ready */
      for (const { handle } of received) handle.close()
      throw err
    } finally {
      this.booting = undefined
    }
    // what the new generation listens on is what the next one inherits
    for (const { handle } of this.sockets) handle.close()
    this.sockets = received
    return gen
  }

  /** Tells systemd (if it listens), in order. */
  private notify (...assignments: string[]): Promise<void> {
    this.notified = this.notified.then(() => notifySystemd(assignments, this.log))
    return this.notified
  }

  private serve (gen: Generation): void {
    this.current = gen
    this.generation = gen.generation
    this.state = 'serving'
  }

  private send (gen: Generation, message: SupervisorMessage): void {
    // with a callback, a generation that exits meanwhile (EPIPE) is no 'error' event
    if (gen.child.connected) gen.child.send(message, () => {})
  }

  /** A generation asked for an upgrade (its reload signal or `upgrade()`): run it, answer. */
  private answer (gen: Generation, id: number): void {
    this.reload(`generation ${gen.generation} (pid ${gen.pid})`).then(
      result => this.send(gen, { hotRestart: 'upgraded', id, result }),
      (err: Error & { code?: string }) => this.send(gen, { hotRestart: 'upgraded', id, error: { code: err.code, message: err.message } }))
  }

  private refusal (): Error | undefined {
    if (this.state === 'stopping') return new ShuttingDownError('shutting down')
    if (this.state === 'reloading') return new UpgradeInProgressError()
    if (this.state !== 'serving') return new NotReadyError()
    if (this.draining.size > 0) return new PredecessorDrainingError([...this.draining].map(g => g.pid).join(', '))
    return undefined
  }

  private record (attempt: number, status: AttemptStatus): void {
    this.attempts[attempt] = status
    this.writeStatusFile()
  }

  private writeStatusFile (): void {
    if (this.options.pidFile === undefined || this.state === 'stopping') return
    writeStatus(this.options.pidFile, { pid: process.pid, generation: this.generation, attempt: this.attempt, attempts: this.attempts })
  }

  /**
   * Starts the next generation on the same sockets; once it is ready, the serving one drains.
   * Rejects with a coded error, the serving generation serving on, if refused or failed.
   */
  async reload (trigger: string): Promise<UpgradeResult> {
    const attempt = ++this.attempt
    const refused = this.refusal()
    if (refused !== undefined) {
      const code = (refused as { code?: string }).code
      this.log.warn({ code, trigger }, `hot-restart supervisor: reload refused: ${refused.message}`)
      this.record(attempt, { state: 'refused', code, message: refused.message })
      throw refused
    }
    this.state = 'reloading'
    this.record(attempt, { state: 'upgrading' })
    const started = performance.now()
    const generation = this.generation + 1
    this.log.info({ trigger, generation }, 'hot-restart supervisor: reload started')
    void this.notify('RELOADING=1', `MONOTONIC_USEC=${monotonicUsec()}`)
    let next: Generation
    try {
      next = await this.spawn(generation)
    } catch (err) {
      const e = err as Error & { code?: string, cause?: unknown }
      if ((this.state as SupervisorState) === 'stopping') throw err
      this.state = 'serving'
      this.log.error({ err: e, code: e.code, generation, details: e.cause }, `hot-restart supervisor: reload failed; still serving: ${e.message}`)
      this.record(attempt, { state: 'failed', code: e.code, message: e.message, generation })
      if (this.current === undefined) this.restart() // the serving generation died meanwhile
      void this.notify('READY=1')
      throw err
    }
    const readyMs = Math.round(performance.now() - started)
    const old = this.current
    this.serve(next)
    this.handOver(old, next, readyMs)
    this.log.info({ servingPid: next.pid, generation, readyMs, drainingPid: old?.pid }, 'hot-restart supervisor: reloaded')
    this.record(attempt, { state: 'succeeded', successorPid: next.pid, generation })
    void this.notify('READY=1')
    return { pid: next.pid, generation, readyMs }
  }

  /** `next` is ready: `old` (if it still serves) drains; `next` learns when `old` has exited. */
  private handOver (old: Generation | undefined, next: Generation, readyMs: number): void {
    if (old === undefined || !old.alive) {
      this.send(next, { hotRestart: 'predecessor-exited' })
      return
    }
    next.predecessor = old
    this.send(next, { hotRestart: 'predecessor', pid: old.pid })
    this.draining.add(old)
    this.send(old, { hotRestart: 'drain', successorPid: next.pid, generation: next.generation, signalToReadyMs: readyMs })
  }

  private exited (gen: Generation, code: number | null, signal: NodeJS.Signals | null): void {
    this.children.delete(gen)
    this.draining.delete(gen)
    for (const other of this.children) {
      if (other.predecessor === gen) this.send(other, { hotRestart: 'predecessor-exited' })
    }
    if (gen !== this.current) return
    this.current = undefined
    if (this.state === 'stopping') return
    this.log.error({ generationPid: gen.pid, generation: gen.generation, exitCode: code, signal },
      'hot-restart supervisor: the serving generation exited unexpectedly; starting the next one on the same sockets')
    // a reload in flight becomes the restart (and restarts if it fails)
    if (this.state !== 'reloading') this.restart()
  }

  /** Starts the next generation after a crash, with backoff; gives up past maxRestarts. */
  private restart (): void {
    const now = performance.now()
    this.crashes = [...this.crashes.filter(t => now - t < RESTART_WINDOW), now]
    if (this.crashes.length > this.options.maxRestarts) {
      this.log.error({ crashes: this.crashes.length, maxRestarts: this.options.maxRestarts, windowMs: RESTART_WINDOW },
        'hot-restart supervisor: too many crashes; giving up')
      this.stop(1).catch(/* c8 ignore next */ () => {})
      return
    }
    this.state = 'restarting'
    const delay = this.crashes.length === 1 ? 0 : Math.min(100 * 2 ** (this.crashes.length - 2), MAX_BACKOFF)
    const started = performance.now()
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined
      const generation = this.generation + 1
      this.spawn(generation).then(next => {
        this.serve(next)
        this.handOver(undefined, next, 0)
        this.writeStatusFile()
        this.log.info({ servingPid: next.pid, generation, delayMs: delay, downMs: Math.round(performance.now() - started + delay) },
          'hot-restart supervisor: restarted after a crash')
      }, (err: Error & { code?: string }) => {
        if (this.state === 'stopping') return
        this.log.error({ err, code: err.code, generation }, `hot-restart supervisor: the restart failed: ${err.message}`)
        this.restart()
      })
    }, delay)
  }

  /**
   * Stops gracefully: a generation that boots is killed, the others drain, run their atExit
   * hooks and exit; then the sockets are closed and the pid file removed. Resolves when done.
   */
  stop (code = 0): Promise<void> {
    this.stopping ??= (async () => {
      this.state = 'stopping'
      clearTimeout(this.restartTimer)
      this.log.info({ generations: [...this.children].map(g => g.pid) }, 'hot-restart supervisor: stopping')
      void this.notify('STOPPING=1')
      await this.booting?.kill()
      for (const gen of this.children) this.send(gen, { hotRestart: 'shutdown' })
      await Promise.all([...this.children].map(g => g.exited))
      this.close()
      this.log.info({ exitCode: this.forced ? 1 : code }, 'hot-restart supervisor: stopped')
      this.finished(this.forced ? 1 : code)
    })()
    return this.stopping
  }

  /** Kills every generation (SIGKILL) and closes everything at once: the second signal. */
  force (): void {
    this.forced = true
    this.state = 'stopping'
    clearTimeout(this.restartTimer)
    this.log.warn({ generations: [...this.children].map(g => g.pid) }, 'hot-restart supervisor: forced stop; killing every generation')
    for (const gen of this.children) gen.child.kill('SIGKILL')
    Promise.all([...this.children].map(g => g.exited)).then(() => {
      this.close()
      this.finished(1)
    })
  }

  private close (): void {
    for (const { entry, handle } of this.sockets.splice(0)) {
      handle.close()
      if (entry.requested.path !== undefined) rmSync(entry.requested.path, { force: true })
    }
    if (this.options.pidFile !== undefined) removeIfOurs(this.options.pidFile, process.pid)
  }
}
