/**
 * The adapter for any node:http / node:https server (Express, Koa, plain handlers): the same
 * upgrader, options, error codes, CLI and logs as the Fastify plugin, without fastify.
 *
 *   const { hotRestart } = require('fastify-hot-restart/node')
 *   const hr = hotRestart(http.createServer(app), { pidFile: './app.pid' })
 *   hr.atExit(async () => { await db.end() })
 *   await hr.listen({ port: 3000, host: '127.0.0.1' })
 */
import type http from 'node:http'
import type net from 'node:net'
import { checkHook, type AtExitHook } from './at-exit'
import { isHttpServer } from './drain'
import { InvalidOptionError } from './errors'
import { installGracefulShutdown } from './graceful'
import { jsonLogger, type Logger } from './log'
import { describe, ignoredOptions, resolveOptions, type HotRestartOptions } from './options'
import { serveReadiness } from './readiness'
import type { OpenSocket } from './sockets'
import { sharedUpgrader, type UpgradeResult } from './upgrader'

export * from './errors'
export type { HotRestartOptions } from './options'
export type { UpgradeResult } from './upgrader'
export type { Logger } from './log'
export { jsonLogger } from './log'
export type { OpenSocket } from './sockets'

/** Options of the node:http adapter: the plugin's, plus a logger. */
export interface NodeHotRestartOptions extends HotRestartOptions {
  /** A pino-compatible logger (`info`, `warn`, `error` taking an object and a message). @default JSON lines on stdout/stderr */
  logger?: Logger
}

/** What `hotRestart(server)` returns. */
export interface NodeHotRestart {
  /** See the Fastify plugin's `atExit`; the server is closed after the hooks. */
  atExit (fn: AtExitHook): () => void
  /** See the Fastify plugin's `onDrain`. */
  onDrain (fn: AtExitHook): () => void
  /** Starts an upgrade; see the Fastify plugin's `upgrade()`. */
  upgrade (): Promise<UpgradeResult>
  /** See the Fastify plugin's `socket()`: a dgram socket or a net.Server handed over by name. */
  socket: OpenSocket
  /** Listens like `server.listen(options)`; in a successor, on the inherited socket. Resolves with `server.address()`. */
  listen (options: net.ListenOptions): Promise<ReturnType<net.Server['address']>>
  /** Drains, runs the atExit hooks and closes the server, as SIGTERM does. */
  close (): Promise<void>
  readonly generation: number
  readonly draining: boolean
  /** See the Fastify plugin's `stopping`. */
  readonly stopping: boolean
  readonly predecessorExited: Promise<void>
}

function isLogger (value: unknown): value is Logger {
  return typeof value === 'object' && value !== null &&
    ['info', 'warn', 'error'].every(m => typeof (value as Record<string, unknown>)[m] === 'function')
}

/**
 * Gives a node:http (or https, or net) server zero-downtime reloads.
 * @throws FST_HOT_RESTART_INVALID_OPTION
 */
export function hotRestart (server: net.Server, options: NodeHotRestartOptions = {}): NodeHotRestart {
  if (typeof server !== 'object' || server === null || typeof (server as net.Server).listen !== 'function') {
    throw new InvalidOptionError(`Expected \`server\` to be a node:http or node:net server, got ${describe(server)}`)
  }
  const { logger = jsonLogger, ...rest } = options
  if (!isLogger(logger)) throw new InvalidOptionError(`Expected \`logger\` to have info, warn and error methods, got ${describe(logger)}`)
  const resolved = resolveOptions(rest)
  if (resolved.readinessUrl !== undefined && !isHttpServer(server)) {
    throw new InvalidOptionError(`Expected \`readinessUrl\` to go with a node:http or node:https server, got ${server.constructor.name}`)
  }
  const { upgrader, created } = sharedUpgrader(resolved, logger)
  if (created) upgrader.onDispose(installGracefulShutdown(upgrader, resolved, logger))
  const ignored = created ? [] : ignoredOptions(upgrader.options, rest)
  if (ignored.length > 0) logger.warn({ ignored }, 'hot-restart: this process already has an upgrader; the first app\'s options apply')
  if (resolved.readinessUrl !== undefined) upgrader.onDispose(serveReadiness(server as http.Server, resolved.readinessUrl, upgrader))
  const participant = upgrader.addParticipant({
    name: 'node:http',
    server,
    close: () => new Promise<void>(resolve => { server.close(() => resolve()) })
  })

  return {
    atExit: (fn) => upgrader.atExit(checkHook('atExit', fn)),
    onDrain: (fn) => upgrader.onDrain(checkHook('onDrain', fn)),
    upgrade: () => upgrader.upgrade(),
    socket: ((name, socket, socketOptions) => upgrader.openSocket(name, socket, socketOptions)) as OpenSocket,
    listen (listenOptions) {
      return new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(listenOptions, () => {
          server.removeListener('error', reject)
          logger.info({ address: server.address() }, 'hot-restart: listening')
          setImmediate(participant.listening)
          resolve(server.address())
        })
      })
    },
    close: () => upgrader.shutdown(),
    get generation () { return upgrader.generation },
    get draining () { return upgrader.draining },
    get stopping () { return upgrader.stopping || upgrader.draining },
    predecessorExited: upgrader.predecessor?.exited ?? Promise.resolve()
  }
}

export default hotRestart
