/**
 * Standalone mode (see mode.ts): the generation spawns its own successor on its listening fds,
 * hands its connections over once the successor is ready, writes the pid file and the status
 * file, and tells systemd (Type=notify) its new main pid.
 */
import { channels, publish } from './events'
import { Handover, listeningAddresses, receiveConnections, toSuccessor } from './handover'
import type { Logger } from './log'
import { MANIFEST_VERSION } from './manifest'
import type { GenerationMode } from './mode'
import type { ResolvedOptions } from './options'
import { checkPidFile, readStatus, removeIfOurs, writeServing, writeStatus } from './pid-file'
import { connectPredecessor } from './predecessor'
import type { ProcessSeam } from './process-seam'
import { handOver, unlinkPaths } from './sockets'
import { spawnSuccessor } from './successor'
import { notifySystemd, systemdNotifies } from './systemd'

export interface StandaloneOptions {
  options: ResolvedOptions
  /** The predecessor's pid, when this process is a successor. */
  predecessorPid: number | undefined
  /** The folder every successor starts in (the first generation's). */
  cwd: string
  seam: ProcessSeam
  log: Logger
}

/**
 * @throws FST_HOT_RESTART_PID_FILE when the pid file cannot be written (register time)
 */
export function standaloneMode ({ options, predecessorPid, cwd, seam, log }: StandaloneOptions): GenerationMode & { readonly cwd: string } {
  const pidFile = options.pidFile === undefined ? undefined : checkPidFile(options.pidFile)
  const predecessor = predecessorPid === undefined ? undefined : connectPredecessor(predecessorPid, seam.proc)
  return {
    cwd,
    predecessor,
    start (machine) {
      // the predecessor hands its connections over once this process is ready
      if (predecessor?.alive !== true) return () => {}
      return receiveConnections(seam.proc, machine, predecessor.exited)
    },
    beforeReady () {
      // under systemd (Type=notify): systemd learns the new main pid before the predecessor, the
      // old one, may exit
      return systemdNotifies() ? notifySystemd([`MAINPID=${process.pid}`, 'READY=1'], log) : undefined
    },
    ready (machine) {
      // the files first: once the predecessor hears "ready" it may record the hand-over, which
      // must not race with this process's own status file
      if (pidFile === undefined) return
      try {
        writeServing(pidFile, process.pid, machine.generation, options.signal, predecessor?.alive === true ? predecessor.pid : undefined)
      } catch (err) {
        log.error({ event: 'pid-file.failed', err, pidFile }, 'hot-restart: could not write the pid file')
      }
    },
    writeStatus (machine, attempt, attempts) {
      if (pidFile === undefined || machine.draining) return
      try {
        // another process may serve from this pid file now (our successor): never write over it
        if (readStatus(pidFile)?.pid !== process.pid) return
        writeStatus(pidFile, { pid: process.pid, generation: machine.generation, attempt, attempts })
      } catch (err) {
        log.error({ event: 'status-file.failed', err, pidFile }, 'hot-restart: could not write the status file')
      }
    },
    async upgrade (machine, context) {
      const started = performance.now()
      const { entries, fds } = handOver(machine.sockets.listeners, machine.sockets.datagrams)
      const generation = machine.generation + 1
      const successor = spawnSuccessor({
        manifest: { version: MANIFEST_VERSION, pid: process.pid, generation, cwd, sockets: entries },
        fds,
        readyTimeout: options.readyTimeout,
        log,
        spawn: seam.spawn,
        nice: options.successorNice
      })
      context.booting(successor)
      context.record({ state: 'upgrading', successorPid: successor.pid, generation })
      log.info({ event: 'upgrade.started', successorPid: successor.pid, generation, sockets: entries.length }, 'hot-restart: upgrade started')
      publish(channels.upgradeStart, () => ({ successorPid: successor.pid, generation }))
      let ready
      try {
        ready = await successor.ready
      } catch (err) {
        context.booting(undefined)
        const e = err as Error & { code?: string, cause?: unknown }
        // recorded first: once the line is logged, the status file (what `reload` reads) says so
        context.record({ state: 'failed', code: e.code, message: e.message, successorPid: successor.pid, generation })
        log.error({ event: 'upgrade.failed', err: e, code: e.code, successorPid: successor.pid, generation, details: e.cause },
          `hot-restart: upgrade failed; still serving: ${e.message}`)
        publish(channels.upgradeFailed, () => ({ successorPid: successor.pid, generation, code: e.code, message: e.message, durationMs: Math.round(performance.now() - started) }))
        throw err
      }
      const readyAt = performance.now()
      const signalToReadyMs = Math.round(readyAt - started)
      context.booting(undefined)
      successor.process.unref()
      // where the successor could not write the pid file, this record still leads the CLI to it
      context.record({ state: 'handed-over', successorPid: ready.pid, generation })
      log.info({ event: 'upgrade.ready', successorPid: ready.pid, generation, signalToReadyMs }, 'hot-restart: the successor is ready; draining')
      publish(channels.upgradeReady, () => ({ successorPid: ready.pid, generation, signalToReadyMs }))
      machine.handOver({ successorPid: ready.pid, generation, signalToReadyMs, readyAt },
        options.connectionHandover ? new Handover(toSuccessor(successor.process), listeningAddresses(machine.sockets.listeners)) : undefined)
      return { pid: ready.pid, generation, readyMs: signalToReadyMs }
    },
    shutDown (listeners) {
      // the last generation: its unix socket paths go, and so does its pid file
      unlinkPaths(listeners)
      if (pidFile !== undefined) removeIfOurs(pidFile, process.pid)
    }
  }
}
