/**
 * Graceful shutdown on SIGTERM, SIGINT and close-with-grace's other events, shared by the
 * Fastify plugin and the node:http adapter. The reload signal is always skipped: otherwise a
 * reload would become a shutdown.
 */
import closeWithGrace from 'close-with-grace'
import { settleLogger } from './log'
import type { ResolvedOptions } from './options'
import { stopAfterDelay } from './stop-delay'
import type { Logger, Upgrader } from './upgrader'

/**
 * Installs close-with-grace for the upgrader: on a shutdown signal or an uncaught error the
 * process drains, runs its atExit hooks, closes its apps and exits.
 * @returns the remover
 */
export function installGracefulShutdown (upgrader: Upgrader, options: ResolvedOptions, log: Logger): () => void {
  if (options.closeWithGrace === false) return () => {}
  const cwgOptions = options.closeWithGrace
  const { uninstall } = closeWithGrace({
    // the stop delay, the drain, the atExit hooks, then the apps' close (each phase bounded)
    delay: options.stopDelay + options.drainTimeout + 2 * options.atExitTimeout + 5000,
    logger: { error: (msg: unknown) => log.error({ err: msg }, 'hot-restart: close-with-grace') },
    ...cwgOptions,
    skip: [...(cwgOptions.skip ?? []), options.signal] as closeWithGrace.AllEvents[]
  } as closeWithGrace.Options, async ({ signal, err }) => {
    if (err !== undefined) {
      log.error({ event: 'shutdown.error', err }, 'hot-restart: shutting down after an uncaught error')
      if (upgrader.state === 'booting') upgrader.predecessor?.sendError(err)
    } else {
      log.info({ event: 'shutdown.started', signal }, 'hot-restart: shutting down')
    }
    // a signal (SIGTERM from Kubernetes) serves on for stopDelay first; an error does not
    await stopAfterDelay(upgrader, err === undefined ? options.stopDelay : 0, log)
    // close-with-grace exits the process next
    await settleLogger(log)
  })
  return uninstall
}
