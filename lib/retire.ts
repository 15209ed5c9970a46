/**
 * How a generation goes, after a hand-over or on shutdown: drain its servers (drain.ts) while
 * the onDrain hooks end long-lived connections, run the atExit hooks, close the apps (bounded),
 * and log one line with the timings and what became of the connections. Invariants 5 and 6 of
 * DESIGN.md: no client fails because of the drain; atExit hooks run once, after the drain.
 */
import type net from 'node:net'
import { closeWithin, type AtExitHooks } from './at-exit'
import { drain, stopReceiving, type DrainReport } from './drain'
import { channels, publish } from './events'
import type { Handover } from './handover'
import type { Logger } from './log'
import type { Participant, ReadyOrder } from './mode'
import type { ResolvedOptions } from './options'
import type { Sockets } from './sockets'

export interface Retiring {
  reason: 'upgrade' | 'shutdown'
  /** The successor that is ready (a hand-over), or undefined (a shutdown). */
  upgrade: ReadyOrder | undefined
  handover: Handover | undefined
  generation: number
  sockets: Sockets
  apps: Iterable<Participant>
  drainHooks: AtExitHooks
  atExitHooks: AtExitHooks
  options: ResolvedOptions
  log: Logger
  /** Called once the apps are closed, before the exit line (which whoever waits for it reads as "done"). */
  closed: () => void
  /** While this process's predecessor may still hand it connections: settles once it has exited. */
  arriving?: Promise<unknown>
}

/** Drains, runs the hooks, closes the apps and logs the exit line; rejects only if `closed` throws. */
export async function retire ({ reason, upgrade, handover, generation, sockets, apps, drainHooks, atExitHooks, options, log, closed, arriving }: Retiring): Promise<void> {
  const servers = new Set<net.Server>([...sockets.listeners].map(l => l.server))
  const draining = drain(servers, options.drainTimeout, options.idleGrace, handover, options.closeSpread, arriving)
  publish(channels.drainStart, () => ({ reason, successorPid: upgrade?.successorPid, generation: upgrade?.generation ?? generation }))
  // the successor reads from its own copy of each UDP socket: this one stops reading
  for (const { socket } of [...sockets.datagrams]) stopReceiving(socket)
  // the app ends its long-lived connections (SSE, WebSocket) while the drain waits for them
  const hooksOnDrain = drainHooks.run(options.drainTimeout, log)
  const drained: DrainReport = await draining
  await hooksOnDrain
  if (drained.forced > 0) {
    log.warn({ event: 'drain.forced', forced: drained.forced, forcedRequests: drained.forcedRequests, drainTimeout: options.drainTimeout },
      'hot-restart: drainTimeout reached; closed the remaining connections')
  }
  const drainedAt = performance.now()
  publish(channels.drainEnd, () => ({ reason, successorPid: upgrade?.successorPid, generation: upgrade?.generation ?? generation, report: drained, durationMs: drained.durationMs }))
  const hooks = await atExitHooks.run(options.atExitTimeout, log)
  // bounded like the atExit hooks: an onClose hook that never settles must not keep this process alive
  const left = await closeWithin(apps, options.atExitTimeout, (err, app) => {
    log.error({ event: 'app.close-failed', err, app }, 'hot-restart: closing the app failed')
  })
  if (left.length > 0) {
    log.error({ event: 'app.close-timeout', apps: left, atExitTimeout: options.atExitTimeout },
      `hot-restart: ${left.join(', ')} did not close within atExitTimeout; exiting anyway`)
  }
  closed()
  const timings = upgrade === undefined
    ? { drainMs: drained.durationMs, drainedToExitMs: Math.round(performance.now() - drainedAt) }
    : {
        signalToReadyMs: upgrade.signalToReadyMs,
        readyToDrainedMs: Math.round(drainedAt - upgrade.readyAt),
        drainedToExitMs: Math.round(performance.now() - drainedAt)
      }
  log.info({
    event: 'exit',
    hotRestart: {
      reason,
      predecessorPid: process.pid,
      successorPid: upgrade?.successorPid,
      generation: upgrade?.generation ?? generation,
      ...timings,
      moved: drained.moved,
      notMoved: drained.notMoved,
      closedIdle: drained.closedIdle,
      goaway: drained.goaway,
      forced: drained.forced,
      atExitHooks: hooks.ran,
      atExitFailed: hooks.failed.length + hooks.timedOut.length
    }
  }, reason === 'upgrade' ? 'hot-restart: handed over; exiting' : 'hot-restart: shut down')
}
