/**
 * The Fastify plugin: options, decorators and wiring to the process's upgrader. Nothing else.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { checkHook, type AtExitHook } from './at-exit'
import { installGracefulShutdown } from './graceful'
import { checkWarmup, ignoredOptions, resolveOptions, type HotRestartOptions } from './options'
import { readiness } from './readiness'
import type { OpenSocket } from './sockets'
import { sharedUpgrader, type UpgradeResult } from './upgrader'
import { addWarmup } from './warmup'

export type { HotRestartOptions } from './options'

/** The plugin's options: the process's (shared by its apps), and this app's warm-up. */
export interface FastifyHotRestartOptions extends HotRestartOptions {
  /**
   * Warms the app up before it listens, in every generation: it runs once every plugin has
   * loaded (Fastify's `onReady`, in registration order), and `app.listen()` waits for it. Send
   * requests through the whole Fastify path with `app.inject()`, fill caches, open pools, so
   * that a successor's first clients do not pay for its cold code. Throwing (or rejecting) fails
   * the boot with FST_HOT_RESTART_WARMUP_FAILED: in a successor, the upgrade fails and the
   * predecessor serves on. It counts in `readyTimeout`.
   * @default undefined (none)
   */
  warmup?: (app: FastifyInstance) => unknown
}
export type { UpgradeResult } from './upgrader'
export type { AtExitHook } from './at-exit'
export type { OpenSocket } from './sockets'
export * from './errors'

/** What `app.hotRestart` offers. */
export interface HotRestart {
  /**
   * Registers a cleanup hook, run once in the process that exits after handing over or
   * shutting down: after the drain, before `fastify.close()`.
   * @returns a function that unregisters the hook
   */
  atExit (fn: AtExitHook): () => void
  /**
   * Registers a hook run once when this process starts to drain (after it stopped accepting),
   * to end long-lived connections cleanly: a last server-sent event that tells the client to
   * reconnect, a WebSocket close 1001. Without it, such connections end at `drainTimeout`.
   * @returns a function that unregisters the hook
   */
  onDrain (fn: AtExitHook): () => void
  /**
   * Starts an upgrade, as the reload signal does. Resolves once the successor is ready (this
   * process then drains and exits); rejects with a coded error, and keeps serving, otherwise.
   */
  upgrade (): Promise<UpgradeResult>
  /**
   * Opens a socket that is handed over across reloads by name: a `dgram` socket (UDP) binds,
   * a `net.Server` (a TCP protocol) listens. In a successor each serves the socket of the same
   * name that its predecessor had (when asked for with the same address), so no datagram or
   * connection finds the port closed. Open them before `app.listen()`: the process is ready
   * once they are open. Resolves with the address.
   * @throws FST_HOT_RESTART_INVALID_OPTION (bad arguments, a name already open),
   * FST_HOT_RESTART_SOCKET_TOO_LATE (once the process is ready)
   */
  socket: OpenSocket
  /** 1 for the first process, +1 for each successor. */
  readonly generation: number
  /** True once this process drains (it handed over, or it is shutting down). */
  readonly draining: boolean
  /**
   * True from a shutdown signal on (while the process serves on for `stopDelay`) and once it
   * drains: an app's own readiness route answers 503 when it is set, as `readinessUrl` does.
   */
  readonly stopping: boolean
  /** Resolves when this process's predecessor has exited (at once in the first generation). */
  readonly predecessorExited: Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    hotRestart: HotRestart
  }
}

const plugin: FastifyPluginAsync<FastifyHotRestartOptions> = async function hotRestartPlugin (fastify: FastifyInstance, allOptions) {
  const { warmup, ...opts } = allOptions
  checkWarmup(warmup)
  const options = resolveOptions(opts)
  /* c8 ignore next 3: the tests run on Linux */
  if (process.platform === 'win32') {
    fastify.log.warn('fastify-hot-restart: reloading is not supported on Windows; the app runs, upgrade() and the reload signal are unavailable')
  }
  const { upgrader, created } = sharedUpgrader(options, fastify.log)
  const ignored = created ? [] : ignoredOptions(upgrader.options, opts)
  if (ignored.length > 0) {
    fastify.log.warn({ ignored }, 'fastify-hot-restart: this process already has an upgrader; the first app\'s options apply')
  }
  const { listening, remove } = upgrader.addParticipant({ name: 'fastify', server: fastify.server, close: () => fastify.close() })

  if (created) upgrader.onDispose(installGracefulShutdown(upgrader, options, fastify.log))

  const predecessorExited = upgrader.predecessor?.exited ?? Promise.resolve()
  fastify.decorate('hotRestart', {
    atExit: (fn: AtExitHook) => upgrader.atExit(checkHook('atExit', fn)),
    onDrain: (fn: AtExitHook) => upgrader.onDrain(checkHook('onDrain', fn)),
    upgrade: () => upgrader.upgrade(),
    socket: ((name, socket, options) => upgrader.openSocket(name, socket, options)) as OpenSocket,
    get generation () { return upgrader.generation },
    get draining () { return upgrader.draining },
    get stopping () { return upgrader.stopping || upgrader.draining },
    predecessorExited
  } satisfies HotRestart)

  if (options.readinessUrl !== undefined) {
    fastify.get(options.readinessUrl, { logLevel: 'warn' }, async (_request, reply) => {
      const { status, body } = readiness(upgrader)
      return reply.code(status).header('cache-control', 'no-store').send(body)
    })
  }

  if (warmup !== undefined) addWarmup(fastify, warmup)

  // ready once the onListen hooks registered after this one have run too
  fastify.addHook('onListen', function (done) {
    setImmediate(listening)
    done()
  })
  fastify.addHook('onClose', function (_instance, done) {
    remove()
    if (upgrader.participantCount === 0 && upgrader.state !== 'draining') upgrader.dispose()
    done()
  })
}

/** The Fastify plugin. `await app.register(hotRestart, options)`. */
export const hotRestart = fp(plugin, { fastify: '5.x', name: 'fastify-hot-restart' })
export default hotRestart
/** The same plugin under the package's name in camelCase, which fastify-plugin also sets on it. */
export { hotRestart as fastifyHotRestart }
