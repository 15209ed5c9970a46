/**
 * The optional readiness route (option `readinessUrl`): 200 while this process serves, 503
 * before it is ready, during the stop delay (stop-delay.ts) and once it drains or shuts down, so that a load balancer or an
 * orchestrator's readiness probe moves traffic away from a process that is about to stop.
 */
import type http from 'node:http'
import type { Upgrader } from './upgrader'

/** What the readiness route answers. */
export interface Readiness {
  status: 200 | 503
  body: { ready: boolean, state: Upgrader['state'] | 'stopping', generation: number, pid: number }
}

/** The readiness of the process that `upgrader` runs. */
export function readiness (upgrader: Upgrader): Readiness {
  // during the stop delay it serves, but the load balancers must take it out of rotation
  const ready = !upgrader.stopping && (upgrader.state === 'serving' || upgrader.state === 'upgrading')
  const state = upgrader.stopping && upgrader.state === 'serving' ? 'stopping' : upgrader.state
  return { status: ready ? 200 : 503, body: { ready, state, generation: upgrader.generation, pid: process.pid } }
}

/**
 * Answers `url` on a node:http server before its own request handlers (which were added when
 * the server was created, e.g. `http.createServer(app)`).
 * @returns a remover that gives the handlers back
 */
export function serveReadiness (server: http.Server, url: string, upgrader: Upgrader): () => void {
  const handlers = server.listeners('request') as Array<(req: http.IncomingMessage, res: http.ServerResponse) => void>
  const dispatch = function (this: http.Server, req: http.IncomingMessage, res: http.ServerResponse): void {
    if ((req.url as string).split('?')[0] !== url) {
      for (const handler of handlers) handler.call(this, req, res)
      return
    }
    const { status, body } = readiness(upgrader)
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
    res.end(JSON.stringify(body))
  }
  server.removeAllListeners('request')
  server.on('request', dispatch)
  return () => {
    server.removeListener('request', dispatch)
    for (const handler of handlers) server.on('request', handler)
  }
}
