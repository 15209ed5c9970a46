/**
 * The drain, at node:http level (so it serves Fastify, Express and plain node:http alike).
 * In order: stop accepting (only this process's copy of each listening socket closes: the
 * successor keeps the socket); then, for each connection that is not handed over, at its own
 * moment in the `closeSpread` window (close-spread.ts): mark every response not yet started `Connection: close`, and
 * every request that still arrives on a kept-alive socket; close sockets once they have been
 * idle for a short grace, never one with a request in flight or one whose request is still
 * arriving; at the deadline, close what is left.
 * HTTP/2 sessions (node:http2, with or without TLS) are told to go away (one GOAWAY, at their
 * moment: Node cannot send RFC 9113's two-step shutdown, see the README's Caveats): the client
 * opens no new stream on them, the streams in flight finish, then the session closes.
 * The connections of any other server (a TCP protocol of the app's) are waited for until the
 * deadline: only the app knows when one is idle, and it can end them in an onDrain hook.
 */
import type dgram from 'node:dgram'
import http from 'node:http'
import http2 from 'node:http2'
import https from 'node:https'
import net from 'node:net'
import tls from 'node:tls'
import { CloseSpread } from './close-spread'
import { drainsRunning, type Handover } from './handover'
import { currentResponse, httpParser } from './node-internals'
import { closeWhenLast, onRequest, responsesOf } from './responses'

/** The default of how long a kept-alive socket may stay idle once the drain starts (ms). */
export const IDLE_GRACE = 5000
/** How often the drain tries again the connections left to the hand-over that could not move yet (ms). */
const SWEEP_EVERY = 25

interface TrackedSocket extends net.Socket {
  alpnProtocol?: string | false | null
}

/** What is tracked of one server: its HTTP/1 sockets, its HTTP/2 sessions, or its other connections. */
interface Tracked {
  sockets: Set<TrackedSocket>
  /** Connections of a server that does not speak HTTP: never closed before the deadline. */
  connections: Set<net.Socket>
  /** HTTP/2 sessions, each with its count of open streams. */
  sessions: Map<http2.ServerHttp2Session, { streams: number }>
  /** Set once the drain starts: a session that starts after that is told to go away at once. */
  draining: boolean
}

const tracked = new WeakMap<net.Server, Tracked>()

// node:http2 does not export its server classes
const Http2Server = http2.createServer().constructor
const Http2SecureServer = http2.createSecureServer().constructor

/** Whether the server speaks HTTP/1 through node:http (http or https). */
export function isHttpServer (server: net.Server): server is http.Server {
  return server instanceof http.Server || server instanceof https.Server
}

/** Whether the server speaks HTTP/2 through node:http2 (h2 over TLS, or h2c). */
export function isHttp2Server (server: net.Server): boolean {
  return server instanceof Http2Server || server instanceof Http2SecureServer
}

/**
 * Starts tracking the connections of a server (HTTP/1 sockets, HTTP/2 sessions, or the
 * connections of any other protocol), so that it can be drained.
 * @returns a remover
 */
export function trackConnections (server: net.Server): () => void {
  if (tracked.has(server)) return () => {}
  const h1 = isHttpServer(server)
  const h2 = isHttp2Server(server)
  const state: Tracked = { sockets: new Set(), connections: new Set(), sessions: new Map(), draining: false }
  tracked.set(server, state)
  if (!h1 && !h2) {
    const onOther = (socket: net.Socket): void => {
      state.connections.add(socket)
      socket.once('close', () => state.connections.delete(socket))
    }
    server.on('connection', onOther)
    return () => {
      server.removeListener('connection', onOther)
      tracked.delete(server)
    }
  }
  const onConnection = (socket: TrackedSocket): void => {
    // an HTTP/2 server with allowHTTP1 serves HTTP/1 on the TLS sockets that did not pick h2
    if (h2 && socket.alpnProtocol === 'h2') return
    state.sockets.add(socket)
    socket.once('close', () => state.sockets.delete(socket))
  }
  const onSession = (session: http2.ServerHttp2Session): void => {
    const open = { streams: 0 }
    state.sessions.set(session, open)
    session.on('stream', (stream: http2.ServerHttp2Stream) => {
      open.streams++
      stream.once('close', () => { open.streams-- })
    })
    session.once('close', () => state.sessions.delete(session))
    if (state.draining) session.close()
  }
  // TLS servers hand HTTP the TLS socket, not the TCP one; h2c sockets carry no HTTP/1
  const event = server instanceof tls.Server ? 'secureConnection' : 'connection'
  const tracksSockets = h1 || server instanceof tls.Server
  if (tracksSockets) server.on(event, onConnection)
  // not on an HTTP/2 server: a 'request' listener turns on its compatibility API
  if (h1) server.prependListener('request', onRequest)
  if (h2) server.on('session', onSession)
  return () => {
    server.removeListener(event, onConnection)
    server.removeListener('request', onRequest)
    server.removeListener('session', onSession)
    tracked.delete(server)
  }
}

/** What a drain did. */
export interface DrainReport {
  /** Sockets closed while idle. */
  closedIdle: number
  /** HTTP/2 sessions told to go away (GOAWAY), to close once their streams are done. */
  goaway: number
  /** Sockets and HTTP/2 sessions still open at the deadline, closed by force. */
  forced: number
  /** Requests (HTTP/2 streams) in flight on what was forced. */
  forcedRequests: number
  /** Connections handed to the successor (see handover.ts). */
  moved: number
  /** Connections that could not be handed over and were drained here. */
  notMoved: number
  durationMs: number
}

function markClose (_req: http.IncomingMessage, res: http.ServerResponse): void {
  // HTTP/2 has no Connection header: its sessions get a GOAWAY instead
  if (res instanceof http.ServerResponse) closeWhenLast(res)
}

/** Stops receiving on a UDP socket (closes this process's copy; a successor keeps its own). */
export function stopReceiving (socket: dgram.Socket): void {
  try {
    socket.close()
  } catch {
    // closed already
  }
}

/** Stops accepting on `server` without touching its connections. */
export function stopAccepting (server: net.Server): void {
  if (!server.listening) return
  // http.Server#close would also close idle keep-alive sockets at once, racing their clients
  net.Server.prototype.close.call(server)
}

/** A draining server's closeIdleConnections() and closeAllConnections(): the drain alone closes its connections. Fastify closes
 * its second `localhost` server (::1 beside 127.0.0.1) with http.Server#close (idle ones; all with `forceCloseConnections: true`)
 * once the main one emits 'close', at once if it has no connection: 7 of 9 kept-alive clients on ::1 lost theirs so. */
const leftToTheDrain = (): void => {}

/**
 * Drains the servers: resolves once every connection is closed or at `timeout` ms, after
 * closing the rest by force. A kept-alive socket is closed once it has been idle for
 * `idleGrace` ms: until then its client's next request is served with `Connection: close`,
 * and closing it cannot race that request. With `closeSpread` (ms), each socket that is not
 * handed over waits for its own moment in that window (close-spread.ts) before any of this.
 * Until `arriving` settles (this process's predecessor has exited), connections may still be
 * handed over to it (handover.ts): they are drained with the others, and the drain waits for it.
 */
export function drain (servers: Iterable<net.Server>, timeout: number, idleGrace = IDLE_GRACE, handover?: Handover, closeSpread = 0, arriving?: Promise<unknown>): Promise<DrainReport> {
  const started = performance.now()
  const sockets = new Set<TrackedSocket>()
  const states: Tracked[] = []
  const report: DrainReport = { closedIdle: 0, goaway: 0, forced: 0, forcedRequests: 0, moved: 0, notMoved: 0, durationMs: 0 }
  const spread = new CloseSpread(Math.min(closeSpread, timeout))
  // a connection left to the hand-over gets no `Connection: close`: it moves after its response;
  // one whose moment in the spread has not come is served as usual
  const onDrainRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (handover?.keeps(req.socket) !== true) return spread.isDue(req.socket) ? markClose(req, res) : undefined
    res.once('finish', () => handover.move([req.socket]))
  }
  const drained: net.Server[] = []
  for (const server of servers) {
    stopAccepting(server)
    const own = tracked.get(server)
    if (own === undefined) continue
    drained.push(server)
    Object.assign(server, { closeIdleConnections: leftToTheDrain, closeAllConnections: leftToTheDrain })
    server.prependListener('request', onDrainRequest)
    for (const socket of own.sockets) sockets.add(socket)
    own.draining = true
    states.push(own)
    // no new stream on these sessions (from each one's moment); the streams in flight finish, then each closes
    for (const session of own.sessions.keys()) {
      report.goaway++
      spread.schedule(session, () => session.close())
    }
  }
  // a connection left to the hand-over moves once its last response is written
  for (const socket of sockets) {
    if (handover?.keeps(socket) === true) for (const res of responsesOf(socket)) res.once('finish', () => handover.move([socket]))
  }

  return new Promise(resolve => {
    // what is left to the hand-over and has not moved yet: tried again each tick (it also moves
    // once its response is written). Everything else has a timer of its own: the drain's cost
    // follows what changes, not the number of connections
    const waiting = new Set<TrackedSocket>()
    const idleTimers = new Map<TrackedSocket, NodeJS.Timeout>()
    const done = (): void => {
      for (const server of drained) {
        server.removeListener('connection', follow)
        drainsRunning.delete(server)
        for (const method of ['closeIdleConnections', 'closeAllConnections']) Reflect.deleteProperty(server, method)
      }
      clearInterval(ticker)
      clearTimeout(deadline)
      spread.stop()
      for (const timer of idleTimers.values()) clearTimeout(timer)
      report.moved = handover?.report.moved ?? 0
      report.notMoved = (handover?.report.failed ?? 0) + (handover?.report.fellBack ?? 0)
      report.durationMs = Math.round(performance.now() - started)
      resolve(report)
    }
    // closes the socket once it has read nothing for idleGrace while not busy (one that never
    // sent a byte too); one that read meanwhile is looked at again idleGrace later. An upgraded
    // connection (WebSocket, CONNECT) has left HTTP (its parser is freed): it is never idle in
    // the keep-alive sense; the app ends it (onDrain) or the deadline does
    const watchIdle = (socket: TrackedSocket): void => {
      const bytesRead = socket.bytesRead
      idleTimers.set(socket, setTimeout(() => {
        idleTimers.delete(socket)
        if (socket.destroyed) return
        if (Boolean(currentResponse(socket)) || httpParser(socket) === null || socket.bytesRead !== bytesRead) return watchIdle(socket)
        report.closedIdle++
        socket.destroy()
      }, idleGrace))
    }
    // at its moment: a response not started says `Connection: close` (one already started
    // cannot change its headers), and the socket is closed once idle
    const close = (socket: TrackedSocket): void => {
      spread.schedule(socket, () => {
        if (socket.destroyed) return
        for (const res of responsesOf(socket)) closeWhenLast(res)
        watchIdle(socket)
      })
    }
    // a connection whose send failed before its handle left is drained here
    if (handover !== undefined) handover.onFallBack = close
    if (handover !== undefined) handover.onDeferred = socket => waiting.add(socket as TrackedSocket)
    const tick = (): void => {
      for (const socket of waiting) {
        if (socket.destroyed || handover!.isSending(socket)) waiting.delete(socket)
        else if (!handover!.keeps(socket)) {
          // it left HTTP meanwhile (an upgrade): drained as what cannot move
          waiting.delete(socket)
          watchIdle(socket)
        }
      }
      if (waiting.size > 0) handover!.move(waiting)
      if (arrived && sockets.size === 0 && states.every(state => state.sessions.size === 0 && state.connections.size === 0)) done()
    }
    const follow = (socket: TrackedSocket): void => {
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
      if (socket.destroyed) sockets.delete(socket)
      else if (handover?.keeps(socket) === true) waiting.add(socket)
      else close(socket)
    }
    for (const socket of sockets) follow(socket)
    // accepting has stopped: a connection now is one handed over to this process just as it
    // began to drain (handover.ts), drained with the others (its request answered first)
    for (const server of drained) {
      drainsRunning.add(server)
      server.on('connection', follow)
    }
    let arrived = arriving === undefined
    arriving?.then(() => { arrived = true }, /* c8 ignore next: a predecessor's exit does not reject */ () => { arrived = true })
    const ticker = setInterval(tick, SWEEP_EVERY)
    const deadline = setTimeout(() => {
      const left = [...sockets].filter(socket => !socket.destroyed)
      report.forced = left.length
      report.forcedRequests = left.filter(socket => Boolean(currentResponse(socket))).length
      for (const socket of left) socket.destroy()
      sockets.clear()
      for (const state of states) {
        for (const connection of state.connections) {
          report.forced++
          connection.destroy()
        }
        for (const [session, open] of state.sessions) {
          report.forced++
          report.forcedRequests += open.streams
          session.destroy()
        }
      }
      done()
    }, timeout)
    handover?.move(waiting)
    tick()
  })
}
