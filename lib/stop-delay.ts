/**
 * The stop delay (option `stopDelay`, `run --stop-delay`). Kubernetes removes a pod from its
 * Services' endpoints and from ingresses some seconds after it sends SIGTERM, not before: a
 * server that stops accepting at once refuses what the load balancers still send it meanwhile
 * (the 502s of ingress-nginx #7097). So, on a shutdown signal, the process first keeps
 * accepting and serving for `stopDelay` ms: its readiness route answers 503 at once (the probe
 * takes it out of rotation), and every HTTP/1 response says `Connection: close`, so that
 * pooled connections leave it and reconnect through the load balancer, which routes them
 * elsewhere once it has caught up. Then it drains as usual.
 */
import type http from 'node:http'
import type net from 'node:net'
import { isHttpServer } from './drain'
import { closeWhenLast } from './responses'

/** What the stop delay needs of an upgrader (structural: upgrader.ts imports this file). */
export interface Stoppable {
  readonly state: string
  /** Set for the stop delay: the readiness route answers 503, upgrades are refused. */
  stopping: boolean
  readonly sockets: { readonly listeners: Iterable<{ server: net.Server }> }
  shutdown (): Promise<void>
}

/** Logger calls it makes; a pino logger fits. */
interface InfoLogger {
  info (obj: object, msg: string): void
}

const stops = new WeakMap<Stoppable, Promise<void>>()

/**
 * Makes every HTTP/1 response of `servers` say `Connection: close` (the last of pipelined
 * ones: see drain.ts).
 * @returns the remover
 */
function sayClose (servers: net.Server[]): () => void {
  const onRequest = (_req: http.IncomingMessage, res: http.ServerResponse): void => { closeWhenLast(res) }
  // not on an HTTP/2 server: a 'request' listener would turn on its compatibility API
  const http1 = servers.filter(isHttpServer)
  for (const server of http1) server.prependListener('request', onRequest)
  return () => { for (const server of http1) server.removeListener('request', onRequest) }
}

/**
 * Shuts the process down after `delay` ms of serving with `Connection: close` (see above); at
 * once when `delay` is 0 or the process is not serving (it boots, or an upgrade is in flight,
 * which the shutdown stops). A second call (the supervisor's order and a signal of the same
 * Ctrl-C) gets the first one's promise.
 * @returns a promise that resolves once the process has drained and closed its apps; it never
 * rejects (upgrader.shutdown() does not)
 */
export function stopAfterDelay (upgrader: Stoppable, delay: number, log: InfoLogger): Promise<void> {
  let stop = stops.get(upgrader)
  if (stop !== undefined) return stop
  stop = (async () => {
    if (delay > 0 && upgrader.state === 'serving') {
      upgrader.stopping = true
      log.info({ event: 'stop.delayed', stopDelay: delay },
        `hot-restart: serving ${delay} ms more (stopDelay), each response with Connection: close; the readiness route answers 503`)
      const remove = sayClose([...upgrader.sockets.listeners].map(listener => listener.server))
      await new Promise(resolve => setTimeout(resolve, delay))
      // the drain marks its own responses from the moment it starts
      const shutdown = upgrader.shutdown()
      remove()
      return await shutdown
    }
    return await upgrader.shutdown()
  })()
  stops.set(upgrader, stop)
  return stop
}
