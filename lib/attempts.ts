/**
 * Who may upgrade when, and the record of each attempt: the rules that a generation (standalone
 * or under a supervisor, upgrader.ts) and the supervisor (supervisor.ts) share. Invariants 1
 * and 4 of DESIGN.md: at most one generation that is not ready, one upgrade at a time, and every
 * refusal with its own code.
 */
import {
  CrashRestartError, NotReadyError, NotSupportedError, PredecessorDrainingError, ShuttingDownError, UpgradeInProgressError
} from './errors'
import { stamped, type AttemptStatus } from './pid-file'

/**
 * Where a process stands, as far as an upgrade is concerned: `booting` until it is ready (a
 * supervisor: until generation 1 is), `restarting` while a supervisor replaces a crashed worker,
 * `stopping` (a supervisor) or `draining` and `closed` (a generation) once it goes.
 */
export type Phase = 'booting' | 'serving' | 'upgrading' | 'restarting' | 'stopping' | 'draining' | 'closed'

export interface Situation {
  phase: Phase
  /** Upgrades need POSIX fd passing and signals. @default process.platform */
  platform?: NodeJS.Platform
  /** The pid(s) of a predecessor that has not exited yet, if any. */
  predecessorDraining?: string | undefined
}

/**
 * Why an upgrade may not start now, or undefined when it may.
 * @returns FST_HOT_RESTART_NOT_SUPPORTED (Windows), _SHUTTING_DOWN, _UPGRADE_IN_PROGRESS,
 * _NOT_READY, _CRASH_RESTART or _PREDECESSOR_DRAINING, checked in that order
 */
export function refusal ({ phase, platform = process.platform, predecessorDraining }: Situation): Error | undefined {
  if (platform === 'win32') return new NotSupportedError('upgrade()', 'Windows')
  if (phase === 'stopping') return new ShuttingDownError('shutting down')
  if (phase === 'draining' || phase === 'closed') return new ShuttingDownError('draining or shutting down')
  if (phase === 'upgrading') return new UpgradeInProgressError()
  if (phase === 'booting') return new NotReadyError()
  if (phase === 'restarting') return new CrashRestartError()
  if (predecessorDraining !== undefined) return new PredecessorDrainingError(predecessorDraining)
  return undefined
}

/**
 * The numbered upgrade attempts of one process, each stamped with when it started and ended;
 * what the status file shows (`reload` follows it, `status` lists it).
 */
export class AttemptLog {
  /** The number of the last attempt (0 before the first). */
  attempt = 0
  /** Each attempt's record, by number (the status file keeps the last few). */
  readonly attempts: Record<string, AttemptStatus> = {}
  private readonly write: () => void

  /** @param write called after each record, to write the status file (it must not throw) */
  constructor (write: () => void) {
    this.write = write
  }

  /** @returns the next attempt's number */
  next (): number {
    return ++this.attempt
  }

  /** Records what became of `attempt`, then writes. */
  record (attempt: number, status: AttemptStatus): void {
    this.attempts[attempt] = { ...stamped(this.attempts[attempt], status), at: Date.now() }
    this.write()
  }

  /**
   * Records a refusal.
   * @returns the refusal's code
   */
  refused (attempt: number, err: Error): string | undefined {
    const code = (err as { code?: string }).code
    this.record(attempt, { state: 'refused', code, message: err.message })
    return code
  }
}
