/**
 * A generation's link to the supervisor that started it (`fastify-hot-restart run`, see
 * supervisor.ts). The supervisor names itself in an environment variable; a generation trusts
 * it only when that pid is its parent's and the IPC channel is open (a process the app spawns
 * inherits the variable, not the channel nor the parent).
 *
 * Over the channel a generation: hands the supervisor a copy of each listening socket once it
 * is ready (the handle travels by SCM_RIGHTS), then says ready; asks it for an upgrade (its
 * reload signal and `upgrade()` do); and is told to drain (a successor is ready), to shut
 * down, or that its predecessor has exited. If the supervisor dies, the generation shuts down:
 * no process outlives its supervisor.
 */
import { SupervisorExitedError } from './errors'
import type { Logger } from './log'
import { Handover, listeningAddresses, receiveConnections } from './handover'
import { FIRST_FD } from './manifest'
import type { GenerationMode } from './mode'
import { connectPredecessor, type Predecessor } from './predecessor'
import { readSupervisorMessage, SUPERVISOR_ENV, type DrainOrder, type SupervisorMessage, type UpgradeResult } from './protocol'
import { entryOf, handleOf } from './socket-kinds'
import { standBy } from './spare'
import type { Datagram, Listener } from './sockets'
import { stopAfterDelay } from './stop-delay'
import { viaSupervisor } from './via-supervisor'

export { SUPERVISOR_ENV }
export type { DrainOrder, SupervisorMessage }

/** What a generation does when the supervisor says so. */
export interface SupervisorHandlers {
  drain (order: DrainOrder): void
  /**
   * The supervisor asks for a shutdown (`why` is 'shutdown'), or it has gone ('disconnect').
   * `stopDelay` is set when the supervisor stops (its `--stop-delay`, 0 by default).
   */
  shutdown (why: 'shutdown' | 'disconnect', stopDelay?: number): void
  /** The supervisor has passed on a connection this process sent with `credit` (via-supervisor.ts). */
  relayed (): void
}

export interface SupervisorLink {
  /** The supervisor's pid. */
  readonly pid: number
  /** The previous generation, as the supervisor reports it; says ready to the supervisor. */
  readonly predecessor: Predecessor
  /** Sends the supervisor a copy of each listening socket and named UDP socket (before saying ready). */
  sendSockets (listeners: Iterable<Listener>, datagrams: Iterable<Datagram>): void
  /** Asks the supervisor for an upgrade; settles with its outcome. */
  upgrade (): Promise<UpgradeResult>
  /** @returns a remover */
  listen (handlers: SupervisorHandlers): () => void
}

/**
 * Connects to the supervisor, if this process runs under one. The variable is removed from the
 * environment, so that a process the app spawns does not take itself for a generation.
 * @param hasPredecessor whether a previous generation may still be draining (generation > 1)
 * @param log where a message of the wrong shape (or an answer to no question) is reported; it
 * is then dropped
 * @throws FST_HOT_RESTART_SUPERVISOR_EXITED when the supervisor that started this process is
 * gone (it is no longer the parent, or the channel is closed): the process must not serve alone
 */
export function connectSupervisor (hasPredecessor: boolean, log: Logger, proc: NodeJS.Process = process): SupervisorLink | undefined {
  const raw = proc.env[SUPERVISOR_ENV]
  if (raw === undefined) return undefined
  delete proc.env[SUPERVISOR_ENV]
  const pid = Number(raw)
  if (pid !== proc.ppid || proc.connected !== true) throw new SupervisorExitedError(raw)
  const channel = connectPredecessor(pid, proc) // ready and error messages, as in standalone mode
  let predecessorAlive = hasPredecessor
  // the previous generation's pid, once the supervisor says (until then, the supervisor's)
  let predecessorPid = pid
  // the previous generation drains towards this one once the supervisor says so ("predecessor")
  let handingOver = false
  let predecessorExited!: () => void
  const exited = new Promise<void>(resolve => { predecessorExited = () => { predecessorAlive = false; resolve() } })
  if (!hasPredecessor) predecessorExited()
  const pending = new Map<number, { resolve: (r: UpgradeResult) => void, reject: (e: Error) => void }>()
  let nextId = 0

  // with a callback, a closed channel (the supervisor died meanwhile) is no uncaught 'error'
  const send = (message: object, handle?: unknown): void => {
    proc.send!(message, handle as never, () => {})
  }
  let handlers: SupervisorHandlers | undefined
  const reject = (why: string): void => {
    log.warn({ event: 'protocol.rejected', from: 'supervisor', why }, `hot-restart: ignored a message from the supervisor: ${why}`)
  }
  // the supervisor answers each upgrade request once; anything else is dropped, never trusted
  const onMessage = (raw: unknown): void => {
    const reading = readSupervisorMessage(raw)
    /* c8 ignore next: a message that is not ours (the app's own IPC) is left to the app */
    if (reading === undefined) return
    if ('rejected' in reading) return reject(reading.rejected)
    const message: SupervisorMessage = reading.message
    if (message.hotRestart === 'predecessor') {
      predecessorPid = message.pid
      handingOver = predecessorAlive
    }
    if (message.hotRestart === 'predecessor-exited') predecessorExited()
    if (message.hotRestart === 'drain') handlers?.drain(message)
    if (message.hotRestart === 'relayed') handlers?.relayed()
    if (message.hotRestart === 'shutdown') handlers?.shutdown('shutdown', message.stopDelay)
    if (message.hotRestart !== 'upgraded') return
    const waiting = pending.get(message.id)
    if (waiting === undefined) return reject(`"upgraded": no upgrade ${message.id} was asked for`)
    pending.delete(message.id)
    if (message.error !== undefined) waiting.reject(Object.assign(new Error(message.error.message), { code: message.error.code }))
    else waiting.resolve(message.result as UpgradeResult)
  }
  proc.on('message', onMessage)
  channel.exited.then(() => {
    predecessorExited()
    for (const waiting of pending.values()) {
      waiting.reject(Object.assign(new Error('fastify-hot-restart: the supervisor has exited'), { code: 'FST_HOT_RESTART_SHUTTING_DOWN' }))
    }
    pending.clear()
  })
  proc.channel?.unref()

  return {
    pid,
    predecessor: {
      get pid () { return predecessorPid },
      get alive () { return predecessorAlive },
      exited,
      get handingOver () { return handingOver },
      sendReady: (successorNice) => channel.sendReady(successorNice),
      sendError: (err) => channel.sendError(err)
    },
    sendSockets (listeners, datagrams) {
      for (const open of [...listeners, ...datagrams]) {
        const found = entryOf(open, FIRST_FD)
        if (found !== undefined) send({ hotRestart: 'socket', entry: found.entry }, handleOf(open))
      }
    },
    upgrade () {
      const id = ++nextId
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject })
        send({ hotRestart: 'upgrade', id })
      })
    },
    listen (given) {
      handlers = given
      const onGone = (): void => given.shutdown('disconnect')
      proc.once('disconnect', onGone)
      proc.channel?.unref()
      return () => {
        handlers = undefined
        proc.removeListener('disconnect', onGone)
      }
    }
  }
}

/**
 * Under a supervisor (see mode.ts): the supervisor spawns each generation, owns the pid file
 * and the status file, and orders the drain; this process asks it for upgrades, hands it its
 * sockets once ready, and shuts down when told to or when the supervisor is gone.
 */
export function supervisedMode (link: SupervisorLink, log: Logger, proc: NodeJS.Process = process): GenerationMode {
  return {
    predecessor: link.predecessor,
    start (machine) {
      // the predecessor's connections, relayed by the supervisor: taken for as long as this process serves
      const stopReceiving = link.predecessor.alive ? receiveConnections(proc, machine, undefined) : () => {}
      // a hot standby's spare: its listens wait for the supervisor's `go` (spare.ts)
      const stopStandingBy = standBy(machine, log, proc)
      // the supervisor's pid file is the one that names the server
      log.info({ event: 'supervised', supervisorPid: link.pid, generation: machine.generation, ignoredPidFile: machine.options.pidFile }, 'hot-restart: running under a supervisor')
      // where this process's connections go when it drains (the supervisor's channel)
      let target: ReturnType<typeof viaSupervisor> | undefined
      const stopListening = link.listen({
        drain: (order) => {
          target = viaSupervisor(proc, order.relayCredits === true)
          const handover = machine.options.connectionHandover ? new Handover(target, listeningAddresses(machine.sockets.listeners)) : undefined
          machine.handOver({ ...order, readyAt: performance.now() }, handover)
        },
        relayed: () => target?.relayed(),
        shutdown: (why, stopDelay) => {
          log.info({ event: 'shutdown.started', why }, why === 'shutdown' ? 'hot-restart: the supervisor asks for a shutdown' : 'hot-restart: the supervisor has exited; shutting down')
          // the supervisor stops (SIGTERM): the longer of its --stop-delay and this app's stopDelay
          const delay = stopDelay === undefined ? 0 : Math.max(stopDelay, machine.options.stopDelay)
          // it does not reject; if it did, the rejection would end the process (exit 1)
          void stopAfterDelay(machine, delay, log).then(() => machine.exit(0))
        }
      })
      return () => {
        stopReceiving()
        stopListening()
        stopStandingBy()
      }
    },
    // the supervisor notifies systemd for itself
    beforeReady: () => undefined,
    ready (machine) {
      link.sendSockets(machine.sockets.listeners, machine.sockets.datagrams)
    },
    // the supervisor's status file records the reloads
    writeStatus: () => {},
    upgrade: () => link.upgrade(),
    // the supervisor removes the unix socket paths and the pid file when it stops: a crashed
    // generation's successor goes on serving them
    shutDown: () => {}
  }
}
