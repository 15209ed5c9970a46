/**
 * What `reload` shows while it waits. On a terminal (stderr is a TTY): one line, rewritten in
 * place, that follows the upgrade (signalled, the successor's pid booting, ready), then the
 * old generation's drain until its processes have exited, with their open connections.
 * Elsewhere (a pipe, a log file, CI): nothing, so the output stays the one result line.
 */
import { openConnections } from './connections'
import type { AttemptStatus } from './pid-file'
import { isRunning } from './process-info'

/** A stream the progress goes to; `isTTY` as Node sets it on process.stderr. */
export interface ProgressStream {
  write (s: string): unknown
  isTTY?: boolean
}

export interface Progress {
  /** On every check while the reload waits, with the attempt as the status file tells it. */
  tick (attempt: AttemptStatus | undefined): void
  /** Clears the line before the result is written. */
  clear (): void
  /**
   * After a successful reload, on a terminal: follows the drain of `pids` until they have
   * exited or `deadline` (performance.now() time) passes, then writes one line that says so.
   * Elsewhere it resolves at once.
   */
  drained (pids: number[], deadline: number): Promise<void>
}

/** How often the drain's line is refreshed (ms). */
const REFRESH = 100

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`

/** Starts showing the progress of the reload of `pid` on `stream`. */
export function reloadProgress (stream: ProgressStream, pid: number, signal: string, started = performance.now()): Progress {
  if (stream.isTTY !== true) return { tick: () => {}, clear: () => {}, drained: async () => {} }
  let shown = ''
  const show = (text: string): void => {
    if (text === shown) return
    shown = text
    // back to the line's start, the new text, the rest of the old one erased
    stream.write(`\r${text}\x1b[K`)
  }
  const clear = (): void => {
    if (shown !== '') stream.write('\r\x1b[K')
    shown = ''
  }
  let successor: AttemptStatus | undefined
  show(`reload: sent ${signal} to ${pid}…`)
  return {
    tick (attempt) {
      const elapsed = seconds(performance.now() - started)
      if (attempt?.successorPid !== undefined) successor = attempt
      // once ready, a standalone successor's status file replaces its predecessor's, and for
      // a moment names nobody's attempt: the line keeps the successor
      if (successor !== undefined) show(`reload: successor ${successor.successorPid} (generation ${successor.generation}) booting… ${elapsed}`)
      else show(`reload: sent ${signal} to ${pid}, waiting for the upgrade to start… ${elapsed}`)
    },
    clear,
    async drained (pids, deadline) {
      const from = performance.now()
      let left = pids.filter(isRunning)
      while (left.length > 0 && performance.now() < deadline) {
        // where /proc cannot tell (another OS, another user), the count is left out
        const counts = left.map(p => openConnections(p)).filter((n): n is number => n !== undefined)
        const connections = counts.reduce((a, b) => a + b, 0)
        /* c8 ignore next: the plural form; with the connection hand-over, a predecessor rarely drains more than one */
        const open = counts.length === 0 ? '' : `, ${connections} open connection${connections === 1 ? '' : 's'}`
        show(`draining ${left.join(', ')}${open}… ${seconds(performance.now() - from)}`)
        await new Promise(resolve => setTimeout(resolve, REFRESH))
        left = left.filter(isRunning)
      }
      clear()
      const took = Math.round(performance.now() - from)
      stream.write(left.length === 0 ? `drained: ${pids.join(', ')} exited ${took} ms after the successor was ready\n` : `still draining after ${took} ms: ${left.join(', ')} (the reload itself is done)\n`)
    }
  }
}
