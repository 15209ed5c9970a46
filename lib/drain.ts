/**
 * The drain, at node:http level (so it serves Fastify, Express and plain node:http alike).
 * In order: stop accepting (only this process's copy of each listening socket closes: the
 * successor keeps the socket); mark every response not yet started `Connection: close`, and
 * every request that still arrives on a kept-alive socket; close sockets once they have been
 * idle for a short grace, never one with a request in flight or one whose request is still
 * arriving; at the deadline, close what is left.
 */
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'

/** How long an idle kept-alive socket is left open once the drain starts (ms). */
export const IDLE_GRACE = 250
/** How often the drain looks at the sockets that remain (ms). */
const SWEEP_EVERY = 25

interface TrackedSocket extends net.Socket {
  _httpMessage?: http.ServerResponse | null
}

const tracked = new WeakMap<net.Server, Set<TrackedSocket>>()

/** Whether the server speaks HTTP/1 through node:http (http or https). */
export function isHttpServer (server: net.Server): server is http.Server {
  return server instanceof http.Server || server instanceof https.Server
}

/**
 * Starts tracking the connections of an HTTP server, so that it can be drained.
 * @returns a remover
 */
export function trackConnections (server: net.Server): () => void {
  if (!isHttpServer(server) || tracked.has(server)) return () => {}
  const sockets = new Set<TrackedSocket>()
  tracked.set(server, sockets)
  const onConnection = (socket: TrackedSocket): void => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  }
  // https servers hand HTTP the TLS socket, not the TCP one
  const event = server instanceof https.Server ? 'secureConnection' : 'connection'
  server.on(event, onConnection)
  return () => {
    server.removeListener(event, onConnection)
    tracked.delete(server)
  }
}

/** What a drain did. */
export interface DrainReport {
  /** Sockets closed while idle. */
  closedIdle: number
  /** Sockets still open at the deadline, closed by force (requests cut short among them). */
  forced: number
  /** Requests in flight on the forced sockets. */
  forcedRequests: number
  durationMs: number
}

function markClose (_req: http.IncomingMessage, res: http.ServerResponse): void {
  if (!res.headersSent) res.setHeader('connection', 'close')
}

/** Stops accepting on `server` without touching its connections. */
export function stopAccepting (server: net.Server): void {
  if (!server.listening) return
  // http.Server#close would also close idle keep-alive sockets at once, racing their clients
  net.Server.prototype.close.call(server)
}

/**
 * Drains the servers: resolves once every connection is closed or at `timeout` ms, after
 * closing the rest by force.
 */
export function drain (servers: Iterable<net.Server>, timeout: number): Promise<DrainReport> {
  const started = performance.now()
  const sockets = new Set<TrackedSocket>()
  for (const server of servers) {
    stopAccepting(server)
    const own = tracked.get(server)
    if (own === undefined) continue
    server.prependListener('request', markClose)
    for (const socket of own) sockets.add(socket)
  }
  // a response already started cannot change its headers; its socket is closed once idle
  for (const socket of sockets) {
    const res = socket._httpMessage
    if (res && !res.headersSent) res.setHeader('connection', 'close')
  }

  const report: DrainReport = { closedIdle: 0, forced: 0, forcedRequests: 0, durationMs: 0 }
  // what each socket looked like at the last sweep: bytes read, and since when it is idle
  const seen = new Map<TrackedSocket, { bytesRead: number, idleSince: number }>()

  return new Promise(resolve => {
    const done = (): void => {
      clearInterval(sweeper)
      clearTimeout(deadline)
      report.durationMs = Math.round(performance.now() - started)
      resolve(report)
    }
    const sweep = (): void => {
      const now = performance.now()
      for (const socket of sockets) {
        if (socket.destroyed) { sockets.delete(socket); continue }
        // an upgraded connection (WebSocket, CONNECT) has left HTTP (its parser is freed): it is
        // never idle in the keep-alive sense; the app ends it (onDrain) or the deadline does
        const upgraded = (socket as { parser?: unknown }).parser === null
        const busy = Boolean(socket._httpMessage) || upgraded
        const bytesRead = socket.bytesRead
        const last = seen.get(socket)
        // never used yet (its first request is on its way), busy, or bytes arrived: not idle
        if (busy || bytesRead === 0 || last === undefined || last.bytesRead !== bytesRead) {
          seen.set(socket, { bytesRead, idleSince: now })
          continue
        }
        if (now - last.idleSince >= IDLE_GRACE) {
          report.closedIdle++
          sockets.delete(socket)
          socket.destroy()
        }
      }
      if (sockets.size === 0) done()
    }
    const sweeper = setInterval(sweep, SWEEP_EVERY)
    const deadline = setTimeout(() => {
      const left = [...sockets].filter(socket => !socket.destroyed)
      report.forced = left.length
      report.forcedRequests = left.filter(socket => Boolean(socket._httpMessage)).length
      for (const socket of left) socket.destroy()
      sockets.clear()
      done()
    }, timeout)
    sweep()
  })
}
