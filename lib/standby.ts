/**
 * Hot standby (`run --standby`), the supervisor's side: it keeps one spare of the current code, a
 * process that has booted the app completely but does not accept (spare.ts parks its listens).
 * When a serving worker crashes, the spare is told `go`: it listens on the inherited sockets and
 * says ready some milliseconds later, instead of the whole boot a restart waits for (measured in
 * bench/standby.js); then the next spare boots behind it.
 *
 * - One spare per supervisor, whatever `--workers`: it replaces the first worker that crashes; a
 *   second crash before the next spare stands by is restarted as without one (with backoff).
 * - A reload makes the spare stale (old code): once the new generation serves, it is told to shut
 *   down and a spare of the new code boots.
 * - A spare that fails to boot, or exits while it waits, is booted again with the crash backoff
 *   (backoff.ts); past `maxRestarts` failures within a minute, no spare until the next reload.
 * - While it boots and waits, it runs at a low CPU priority (SPARE_NICE), so that it does not
 *   slow the generation that serves; raised back (every thread) before `go`. Raising a priority
 *   needs CAP_SYS_NICE (or RLIMIT_NICE): without it, spares run at the normal priority.
 * - A stop shuts the spare down with the workers (it is one of Workers.children), and kills one
 *   that boots (Workers.booting).
 */
import { getPriority } from 'node:os'
import { crashBackoff } from './backoff'
import { SuccessorExitedError, SuccessorTimeoutError } from './errors'
import type { Logger } from './log'
import { lowerPriority } from './priority'
import { readGenerationMessage, type Held } from './protocol'
import type { Successor } from './successor'
import type { Worker, Workers } from './workers'

/** How much lower a spare's priority is than the supervisor's (nice values): low, but not so low that a busy machine starves its boot for minutes. */
export const SPARE_NICE = 10

/** A process that stands by (or, from a takeover, serves), with the sockets it sends once it listens. */
export interface Booted { worker: Worker, received: Held[] }

/** A takeover under way: the spare's generation, and its outcome once it listens (or has failed). */
export interface TakeOver { generation: number, ready: Promise<Booted> }

/** How a spare's CPU priority is changed (a fake one in tests). */
export interface Priority {
  /** Lowers `pid`'s priority by SPARE_NICE if it can be raised back. @returns the nice value set, or undefined */
  lower (pid: number): number | undefined
  /** Raises every thread of `pid` back to this process's priority (nothing if it was not lowered). @throws where it may not */
  raise (pid: number): void
}

/**
 * The real priorities (priority.ts: every thread, and only where the right to raise them back
 * is held). A spare's nice value is SPARE_NICE above the supervisor's (at most 19).
 */
export function realPriority (): Priority {
  const raisers = new Map<number, () => void>()
  return {
    lower (pid) {
      const raise = lowerPriority(pid, SPARE_NICE, undefined)
      if (raise === undefined) return undefined
      raisers.set(pid, raise)
      return Math.min(19, getPriority() + SPARE_NICE)
    },
    raise (pid) {
      raisers.get(pid)?.()
      raisers.delete(pid)
    }
  }
}

export interface StandbyOptions {
  workers: Workers
  log: Logger
  /** How long a spare may take to stand by, and to listen once told `go` (ms). */
  readyTimeout: number
  /** Spare failures within RESTART_WINDOW before giving up spares until the next reload. */
  maxRestarts: number
  /** Whether a spare may boot now (not once the supervisor stops). */
  active (): boolean
  /** `true`, or how priorities are changed (a fake in tests). */
  standby: true | Priority
}

export class Standby {
  /** The spare that stands by. */
  private spare: Booted | undefined
  /** The spare that boots. */
  private booting: Successor | undefined
  /** Bumped when the spares become stale: what boots from before is not kept. */
  private epoch = 0
  private failures: number[] = []
  private retry: NodeJS.Timeout | undefined
  private readonly options: StandbyOptions
  private readonly priority: Priority

  constructor (options: StandbyOptions) {
    this.options = options
    this.priority = options.standby === true ? realPriority() : options.standby
  }

  /** A new generation serves (the first, or a reload's): the spare of the old code goes, one of the new code boots. */
  renew (): void {
    this.epoch++
    this.failures = []
    clearTimeout(this.retry)
    this.retry = undefined
    void this.booting?.kill()
    this.booting = undefined
    if (this.spare !== undefined) {
      this.options.log.info({ event: 'standby.stale', standbyPid: this.spare.worker.pid }, 'hot-restart supervisor: the spare runs the previous code; it shuts down')
      this.options.workers.send(this.spare.worker, { hotRestart: 'shutdown' })
      this.spare = undefined
    }
    this.boot()
  }

  /**
   * A serving worker has crashed: the spare that stands by (if any) is told to take over.
   * @returns the takeover, or undefined with no spare standing by
   */
  takeOver (): TakeOver | undefined {
    const spare = this.spare
    if (spare === undefined) return undefined
    this.spare = undefined
    const { worker } = spare
    const { log, readyTimeout, workers } = this.options
    try {
      this.priority.raise(worker.pid)
    } catch (err) {
      log.warn({ event: 'standby.priority-failed', err, standbyPid: worker.pid }, `hot-restart supervisor: could not raise the spare's priority back: ${(err as Error).message}`)
    }
    log.info({ event: 'standby.go', standbyPid: worker.pid, generation: worker.generation }, 'hot-restart supervisor: the spare takes over')
    const ready = new Promise<Booted>((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer)
        worker.child.removeListener('message', onMessage)
        if (err === undefined) resolve(spare)
        else void worker.exited.then(() => reject(err))
      }
      const onMessage = (raw: unknown): void => {
        const reading = readGenerationMessage(raw)
        if (reading !== undefined && 'message' in reading && reading.message.hotRestart === 'ready') done()
      }
      const timer = setTimeout(() => {
        worker.child.kill('SIGKILL')
        done(new SuccessorTimeoutError(worker.pid, readyTimeout))
      }, readyTimeout)
      worker.child.on('message', onMessage)
      void worker.exited.then(() => {
        const { code, signal } = worker.exit!
        done(new SuccessorExitedError(worker.pid, signal === null ? `exited with code ${code}` : `was killed by ${signal}`, ': the spare exited while it took over'))
      })
    })
    workers.send(worker, { hotRestart: 'go' })
    // the next spare boots once this one serves (or has failed): the takeover goes first
    const next = (): void => { setImmediate(() => this.boot()) }
    ready.then(next, next)
    return { generation: worker.generation, ready }
  }

  /** Boots a spare, unless one stands by or boots already. */
  private boot (): void {
    // called with none standing by, booting or waiting to boot again (renew, a takeover, the retry)
    if (!this.options.active()) return
    const { workers, log } = this.options
    const epoch = this.epoch
    const generation = ++workers.started
    const siblings = new Set<Successor>()
    const booted = workers.spawnSpare(generation, siblings)
    const [successor] = siblings
    this.booting = successor
    const nice = successor?.pid === undefined ? undefined : this.priority.lower(successor.pid)
    booted.then(spare => {
      if (this.booting === successor) this.booting = undefined
      // stale (a reload served meanwhile) or stopping: it goes at once
      if (epoch !== this.epoch || !this.options.active()) return workers.send(spare.worker, { hotRestart: 'shutdown' })
      this.spare = spare
      log.info({ event: 'standby.ready', standbyPid: spare.worker.pid, generation, nice }, 'hot-restart supervisor: a spare stands by')
      void spare.worker.exited.then(() => {
        if (this.spare !== spare) return
        this.spare = undefined
        const { code, signal } = spare.worker.exit!
        this.failed(new Error(`the spare (pid ${spare.worker.pid}) ${signal === null ? `exited with code ${code}` : `was killed by ${signal}`} while it stood by`))
      })
    }, (err: Error) => {
      if (this.booting === successor) this.booting = undefined
      if (epoch === this.epoch) this.failed(err)
    })
  }

  /** A spare failed to boot or exited while it waited: another boots, with backoff. */
  private failed (err: Error & { code?: string }): void {
    const { log, maxRestarts } = this.options
    if (!this.options.active()) return
    const { crashes, delay } = crashBackoff(this.failures, performance.now(), maxRestarts)
    this.failures = crashes
    if (delay === undefined) {
      log.error({ event: 'standby.gave-up', err, failures: crashes.length }, `hot-restart supervisor: the spares keep failing; none until the next reload: ${err.message}`)
      return
    }
    log.error({ event: 'standby.failed', err, code: err.code, delayMs: delay }, `hot-restart supervisor: the spare failed; another boots in ${delay} ms: ${err.message}`)
    this.retry = setTimeout(() => {
      this.retry = undefined
      this.boot()
    }, delay)
  }

  /** The supervisor has stopped: no spare boots again. */
  stop (): void {
    this.epoch++
    clearTimeout(this.retry)
  }
}
