// Follows the JSON log lines that processes write to one or more streams (every generation of
// an app writes to the stdout it inherited), and waits for the line a test needs.
import { once } from 'node:events'
import type { Readable } from 'node:stream'
import { createInterface } from 'node:readline'
import type { LogEvent } from '../../lib/log-events'

export interface LogLine {
  pid: number
  msg?: string
  [key: string]: unknown
}

/**
 * Matches the line of `event` (the stable field listed in lib/log-events.ts, rather than the
 * message text) whose fields equal `fields`, e.g. `on('upgrade.ready', { pid })`.
 */
export function on (event: LogEvent, fields: Record<string, unknown> = {}): (line: LogLine) => boolean {
  return line => line.event === event && Object.entries(fields).every(([key, value]) => line[key] === value)
}

/** Whether `line` is a generation's last line: handed over ('upgrade') or shut down. */
export function exitLine (line: LogLine, reason: 'upgrade' | 'shutdown'): boolean {
  return line.event === 'exit' && (line.hotRestart as { reason?: string } | undefined)?.reason === reason
}

export interface LogFollower {
  lines: LogLine[]
  /**
   * Resolves with the first line at index `from` or later (already seen or to come) that
   * matches; rejects after `timeout` ms or once every stream has closed.
   */
  waitFor (match: (line: LogLine) => boolean, what?: string, from?: number, timeout?: number): Promise<LogLine>
  /** Resolves once every stream has closed (every process writing to them has exited). */
  closed: Promise<void>
}

/** @param other what to do with a line that is not JSON */
export function followLogs (streams: Readable[], other: (text: string) => void = () => {}): LogFollower {
  const lines: LogLine[] = []
  const waiters = new Set<{ match: (line: LogLine) => boolean, resolve: (line: LogLine) => void }>()
  const closed = Promise.all(streams.map(input => {
    const rl = createInterface({ input })
    rl.on('line', (text) => {
      let line: LogLine
      try { line = JSON.parse(text) } catch { other(text); return }
      lines.push(line)
      for (const w of waiters) if (w.match(line)) { waiters.delete(w); w.resolve(line) }
    })
    return once(rl, 'close')
  })).then(() => {})
  const waitFor = (match: (line: LogLine) => boolean, what = 'a log line', from = 0, timeout = 30000): Promise<LogLine> => {
    const seen = lines.slice(from).find(match)
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(w)
        reject(new Error(`timed out waiting for ${what}; last lines:\n${lines.slice(-10).map(l => JSON.stringify(l)).join('\n')}`))
      }, timeout)
      const w = { match, resolve: (line: LogLine) => { clearTimeout(timer); resolve(line) } }
      waiters.add(w)
      closed.then(() => { if (waiters.delete(w)) { clearTimeout(timer); reject(new Error(`all processes exited while waiting for ${what}`)) } })
    })
  }
  return { lines, waitFor, closed }
}
