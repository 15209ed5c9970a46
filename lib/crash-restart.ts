/**
 * Crash restarts under the supervisor: a serving worker that exited without being asked to is
 * replaced on the same sockets, at once by a hot standby's spare (standby.ts), otherwise after a
 * backoff (backoff.ts) that grows with the crashes of the last RESTART_WINDOW; past
 * `maxRestarts` of them the supervisor gives up. supervisor.ts decides when to call restart();
 * this file counts the crashes and the workers that boot in place of the missing ones.
 */
import { crashBackoff, RESTART_WINDOW } from './backoff'
import type { Group } from './group'
import type { Logger } from './log'
import type { Standby, TakeOver } from './standby'
import type { Workers } from './workers'

/** What a restart needs of the supervisor. */
export interface RestartHost {
  readonly workers: Workers
  readonly standby: Standby | undefined
  readonly maxRestarts: number
  readonly log: Logger
  /** The group that serves: the missing workers are its. */
  current (): Group
  /** Whether the supervisor stops (a failed restart is then not tried again). */
  stopping (): boolean
  /** A restart has begun (the supervisor's state is `restarting`). */
  began (): void
  /** A worker serves in place of a crashed one, as generation `generation`. */
  restarted (generation: number): void
  /** Too many crashes: the supervisor stops. */
  giveUp (): void
}

export class CrashRestarts {
  private crashes: number[] = []
  private timer: NodeJS.Timeout | undefined
  private booting = 0
  private readonly host: RestartHost

  constructor (host: RestartHost) {
    this.host = host
  }

  /** No restart waits for its backoff or boots. */
  get idle (): boolean {
    return this.booting === 0 && this.timer === undefined
  }

  /** A restart that waits for its backoff never starts (the supervisor stops). */
  cancel (): void {
    clearTimeout(this.timer)
  }

  /**
   * A serving worker crashed, or its restart failed: starts new workers for the missing ones,
   * with backoff; gives up past maxRestarts.
   */
  restart (): void {
    const { host } = this
    const { crashes, delay } = crashBackoff(this.crashes, performance.now(), host.maxRestarts)
    this.crashes = crashes
    if (delay === undefined) {
      host.log.error({ event: 'supervisor.gave-up', crashes: this.crashes.length, maxRestarts: host.maxRestarts, windowMs: RESTART_WINDOW },
        'hot-restart supervisor: too many crashes; giving up')
      host.giveUp()
      return
    }
    host.began()
    // a hot standby's spare takes over at once; the backoff is for what it does not cover
    const spare = host.standby?.takeOver()
    if (spare !== undefined) this.restartOne(host.current(), 0, performance.now(), spare)
    // a pending restart starts every missing worker
    if (this.timer !== undefined || host.workers.count - host.current().workers.size - this.booting <= 0) return
    const started = performance.now()
    this.timer = setTimeout(() => {
      this.timer = undefined
      const group = host.current()
      const missing = host.workers.count - group.workers.size - this.booting
      for (let i = 0; i < missing; i++) this.restartOne(group, delay, started)
    }, delay)
  }

  private restartOne (group: Group, delay: number, started: number, spare?: TakeOver): void {
    const { host } = this
    const { workers } = host
    this.booting++
    const generation = spare?.generation ?? ++workers.started
    ;(spare?.ready ?? workers.spawnWorker(generation)).then(({ worker, received }) => {
      this.booting--
      for (const { handle } of received) handle.close() // the same sockets as those held
      worker.group = group
      group.workers.add(worker)
      workers.send(worker, { hotRestart: 'predecessor-exited' })
      host.restarted(generation)
      host.log.info({ event: 'supervisor.restarted', servingPid: worker.pid, generation, delayMs: delay, downMs: Math.round(performance.now() - started + delay), standby: spare !== undefined },
        'hot-restart supervisor: restarted after a crash')
    }, (err: Error & { code?: string }) => {
      this.booting--
      if (host.stopping()) return
      host.log.error({ event: 'supervisor.restart.failed', err, code: err.code, generation }, `hot-restart supervisor: the restart failed: ${err.message}`)
      this.restart()
    })
  }
}
