/**
 * diagnostics_channel channels for the moments of an upgrade, as Fastify core and undici
 * publish theirs: subscribe with `diagnostics_channel.subscribe(name, fn)` (no import of this
 * package needed). A message is built only when someone subscribes (`hasSubscribers`), so the
 * channels cost nothing otherwise. Each message carries the pids, the generation and timings:
 *
 * - `fastify-hot-restart:upgrade:start`  { pid, successorPid, generation }
 * - `fastify-hot-restart:upgrade:ready`  { pid, successorPid, generation, signalToReadyMs }
 * - `fastify-hot-restart:upgrade:failed` { pid, successorPid, generation, code, message, durationMs }
 * - `fastify-hot-restart:drain:start`    { pid, reason, successorPid?, generation }
 * - `fastify-hot-restart:drain:end`      { pid, reason, successorPid?, generation, report, durationMs }
 *
 * In the drain messages, `generation` is the successor's for an upgrade, this process's for a
 * shutdown, as in the `exit` log line; `report` is the drain report (moved, notMoved, closedIdle,
 * goaway, forced, forcedRequests, durationMs).
 *
 * `pid` is the process that publishes (the predecessor for upgrades); under a supervisor the
 * upgrades run in the supervisor's process, which publishes none: only the drain channels
 * publish, in the app's processes.
 */
import diagnostics from 'node:diagnostics_channel'
import type { DrainReport } from './drain'

export const channels = {
  upgradeStart: diagnostics.channel('fastify-hot-restart:upgrade:start'),
  upgradeReady: diagnostics.channel('fastify-hot-restart:upgrade:ready'),
  upgradeFailed: diagnostics.channel('fastify-hot-restart:upgrade:failed'),
  drainStart: diagnostics.channel('fastify-hot-restart:drain:start'),
  drainEnd: diagnostics.channel('fastify-hot-restart:drain:end')
}

/** What `drain:end` carries: the drain report of the process that drained. */
export interface DrainEndMessage {
  pid: number
  /** 'upgrade': it handed over to `successorPid`; 'shutdown': it stopped. */
  reason: 'upgrade' | 'shutdown'
  successorPid?: number
  generation: number
  report: DrainReport
  durationMs: number
}

/**
 * Publishes on `channel` the message `build()` makes, only when someone subscribes. A
 * subscriber's error is not ours to throw (diagnostics_channel reports it as uncaught).
 */
export function publish (channel: diagnostics.Channel, build: () => object): void {
  if (channel.hasSubscribers) channel.publish({ pid: process.pid, ...build() })
}
