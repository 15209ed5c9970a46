/**
 * The successor's handle on the predecessor that spawned it, over the IPC channel that the
 * predecessor opened: say "ready" (or why the boot failed), and learn when the predecessor is
 * gone (the channel closes when either side dies).
 */
import type { GenerationMessage } from './protocol'

export interface Predecessor {
  readonly pid: number
  /** True until the predecessor has exited (its end of the channel closed). */
  readonly alive: boolean
  /** Resolves when the predecessor has exited. */
  readonly exited: Promise<void>
  /** True once the predecessor may hand this process connections (this process took over). */
  readonly handingOver: boolean
  /**
   * Tells the predecessor that this process is ready, with its `successorNice` option (a
   * supervisor applies it to the next generation it spawns; a predecessor has its own).
   */
  sendReady (successorNice?: number): void
  /** Tells the predecessor why this process failed to boot (the first line is shown to the user). */
  sendError (err: unknown): void
}

/**
 * Connects to the predecessor over this process's IPC channel. The channel does not keep the
 * process alive.
 */
export function connectPredecessor (pid: number, proc: NodeJS.Process = process): Predecessor {
  let alive = proc.connected === true
  const exited = alive
    ? new Promise<void>(resolve => proc.once('disconnect', () => { alive = false; resolve() }))
    : Promise.resolve()
  proc.channel?.unref()
  // a predecessor drains once it hears "ready"
  let handingOver = false
  const send = (message: GenerationMessage): void => {
    if (!alive || typeof proc.send !== 'function') return
    try { proc.send(message) } catch {}
  }
  return {
    pid,
    get alive () { return alive },
    exited,
    get handingOver () { return handingOver },
    sendReady (successorNice) {
      handingOver = alive
      send({ hotRestart: 'ready', pid: proc.pid, ...(successorNice !== undefined && successorNice > 0 && { successorNice }) })
    },
    sendError (err) {
      // a coded error keeps its code: `FastifyError [FST_HOT_RESTART_BAD_MANIFEST]: ...`
      const code = (err as { code?: unknown } | null)?.code
      const message = err instanceof Error ? `${err.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${err.message}` : String(err)
      send({ hotRestart: 'error', message })
    }
  }
}

/**
 * In a successor (the manifest variable is set and the IPC channel is open), forwards the
 * first uncaught error to the predecessor, so that a boot failure is reported with its reason
 * and not only with an exit code. The write to the channel is attempted at once, before the
 * process dies.
 * @returns a remover
 */
export function reportBootErrors (proc: NodeJS.Process = process): () => void {
  // a successor, or any generation under a supervisor (FASTIFY_HOT_RESTART_SUPERVISOR, see supervised.ts)
  const spawnedByUs = proc.env.FASTIFY_HOT_RESTART !== undefined || proc.env.FASTIFY_HOT_RESTART_SUPERVISOR !== undefined
  if (!spawnedByUs || proc.connected !== true) return () => {}
  const onError = (err: unknown): void => {
    proc.removeListener('uncaughtExceptionMonitor', onError)
    connectPredecessor(proc.ppid, proc).sendError(err)
  }
  proc.on('uncaughtExceptionMonitor', onError)
  return () => proc.removeListener('uncaughtExceptionMonitor', onError)
}
