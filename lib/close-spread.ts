/**
 * The spread of the drain's closes (HAProxy's `close-spread-time`): each connection that must be
 * closed gets its own moment, drawn uniformly from a window that starts with the drain. Until
 * then it is served as usual; from then on the drain closes it (`Connection: close`, then the
 * idle close). Closing them all at once makes every client reconnect at once: on 2 cores, with
 * 100 kept-alive clients, spreading the closes over 1 s removed 88% of the reload-window p99
 * excess (issue 12).
 */

/** The moments at which connections are to be closed; see `schedule`. */
export class CloseSpread {
  private readonly window: number
  /** What was scheduled and whose moment has not come yet. */
  private readonly waiting = new WeakSet<object>()
  private readonly timers = new Set<NodeJS.Timeout>()

  /** @param window the length of the window (ms); 0 closes everything at once */
  constructor (window: number) {
    this.window = window
  }

  /**
   * Calls `close` at a moment drawn uniformly from the window (at once, synchronously, for a
   * window of 0). Until then `isDue(connection)` is false.
   */
  schedule (connection: object, close: () => void): void {
    const delay = Math.floor(Math.random() * this.window)
    if (delay === 0) return close()
    this.waiting.add(connection)
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      this.waiting.delete(connection)
      close()
    }, delay)
    this.timers.add(timer)
  }

  /** Whether `connection` is to be closed now: its moment has come, or it was never scheduled. */
  isDue (connection: object): boolean {
    return !this.waiting.has(connection)
  }

  /** Cancels the moments to come (the drain is over). */
  stop (): void {
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
  }
}
