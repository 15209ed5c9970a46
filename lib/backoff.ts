/**
 * The supervisor's crash backoff, as a pure function: from the times of the recent crashes, how
 * long to wait before the next restart, or that it is time to give up.
 */

/** Crashes older than this (ms) no longer count towards `maxRestarts`. */
export const RESTART_WINDOW = 60_000
/** The longest wait between two restarts (ms). */
export const MAX_BACKOFF = 5_000
/** The wait after the second crash in a row (ms); it doubles with each crash after that. */
export const FIRST_BACKOFF = 100

export interface Backoff {
  /** The crashes that still count (within RESTART_WINDOW of `now`), this one included. */
  crashes: number[]
  /** How long to wait before restarting (ms); undefined: more than `maxRestarts` crashes, give up. */
  delay: number | undefined
}

/**
 * A crash at `now`: the first one in the window restarts at once, each further one waits twice
 * as long as the one before (100, 200, 400 ms ...), at most MAX_BACKOFF.
 * @param crashes the times of earlier crashes (ms, one monotonic clock); not modified
 * @param now the time of this crash
 * @param maxRestarts how many crashes within RESTART_WINDOW are restarted
 */
export function crashBackoff (crashes: readonly number[], now: number, maxRestarts: number): Backoff {
  const recent = [...crashes.filter(t => now - t < RESTART_WINDOW), now]
  if (recent.length > maxRestarts) return { crashes: recent, delay: undefined }
  const delay = recent.length <= 1 ? 0 : Math.min(FIRST_BACKOFF * 2 ** (recent.length - 2), MAX_BACKOFF)
  return { crashes: recent, delay }
}
