/**
 * Connection hand-over: once the successor is ready, the predecessor moves each HTTP/1.1
 * connection that sits between two requests to the successor over the IPC channel (the socket's
 * handle travels by SCM_RIGHTS), where the server that serves the same inherited listening
 * socket adopts it as if it had accepted it. The client's next request is answered by the
 * successor on the same TCP connection: no `Connection: close`, no reconnect, no idle close to
 * race.
 *
 * A connection moves only at a request boundary, with nothing read into the predecessor that
 * the successor would need (bytes still in the kernel's receive buffer move with the fd; bytes
 * already read do not): reading is stopped first, then the connection must have no response in
 * progress or queued (pipelined requests), no request begun (the HTTP parser has not seen the
 * first byte of a new message), no bytes waiting to be written, and not have left HTTP (an
 * upgraded connection). Otherwise it is answered here and tried again after its response.
 * What cannot move (TLS, HTTP/2, upgraded connections, a failed send) keeps the old drain.
 */
import type { ChildProcess } from 'node:child_process'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import { isStreamHandle } from './handover-relay'
import { acceptedBy, adoptConnection, currentResponse, hasHandle, holdReading, httpConnections, httpParser, resumeHandle, setSocketServer, socketOnHandle } from './node-internals'
import { describeEntry, isConnectionMessage, type ConnectionMessage, type SocketEntry } from './protocol'
import { handOver, type Listener } from './sockets'

export { isConnectionMessage }
export type { ConnectionMessage }

/** Whether the connections of `server` can move: plain HTTP/1.1 (TCP or unix), not TLS, not HTTP/2. */
export function canMove (server: net.Server): server is http.Server {
  return server instanceof http.Server && !(server instanceof https.Server) && httpConnections(server) !== undefined
}

/**
 * The sockets of `server` whose HTTP parser is between two messages (Node's own notion of an
 * idle connection, which `closeIdleConnections()` uses): no request has begun on them.
 */
export function parserIdle (server: http.Server): Set<net.Socket> {
  const idle = new Set<net.Socket>()
  // a parser leaves the list when it is freed, so every one in it has its socket
  for (const { socket } of httpConnections(server)?.idle() ?? []) idle.add(socket as net.Socket)
  return idle
}

/**
 * Whether `socket` is at a request boundary, given the parser-idle sockets of its server: no
 * response in progress or queued, nothing left to write, still HTTP, and no request begun.
 * Node counts a connection that has not completed a request yet as busy (so that
 * `headersTimeout` applies to it), so a connection on which this process has read no byte
 * at all (just accepted, or just adopted) is at a boundary too: its parser has seen nothing.
 * The answer holds until the socket reads again: stop reading (`socket.pause()`) before acting.
 */
export function atBoundary (socket: net.Socket, idle: Set<net.Socket>): boolean {
  return !socket.destroyed && currentResponse(socket) == null && socket.writableLength === 0 && httpParser(socket) != null && (idle.has(socket) || socket.bytesRead === 0)
}

/**
 * In the successor: `server` takes `socket` (received from the predecessor) as one it accepted:
 * it counts among the server's connections (so `close()` waits for it) and its 'connection'
 * listeners (node:http's, the drain's tracking) see it.
 */
export function adopt (server: net.Server, socket: net.Socket): void {
  adoptConnection(server, socket)
  server.emit('connection', socket)
}

/**
 * Where the predecessor sends connections: the successor's IPC channel, or the supervisor's
 * (via-supervisor.ts). `handle` is the socket's (reading stopped). `done` is called once the
 * handle has left (`null`), or with the error that kept it from leaving.
 */
export interface HandoverTarget {
  send (message: ConnectionMessage, socket: net.Socket, handle: object | null, done: (err: Error | null) => void): void
}

/** The standalone target: the successor's own IPC channel (the socket travels; Node closes its handle here once sent). */
export function toSuccessor (successor: Pick<ChildProcess, 'send'>): HandoverTarget {
  return { send: (message, socket, _handle, done) => { successor.send(message, socket, { keepOpen: false }, done) } }
}

/**
 * The address of each listening socket of `listeners` (as `describeEntry` writes it), by its
 * server: the name under which a connection it accepted travels.
 */
export function listeningAddresses (listeners: Iterable<Listener>): Map<net.Server, string> {
  const { entries, servers } = handOver(listeners)
  const addresses = new Map<net.Server, string>()
  for (const [server, fd] of servers) addresses.set(server, describeEntry(entries.find(entry => entry.fd === fd) as SocketEntry))
  return addresses
}

/** How many connections are given to the channel at once (see Handover#pump). */
const IN_FLIGHT = 8

/** A connection that waits for its turn; `bytesRead` is its count when it was last at a boundary. */
interface Queued { socket: net.Socket, address: string, bytesRead: number }

/** What a hand-over did. */
export interface HandoverReport {
  /** Connections sent to the successor. */
  moved: number
  /** Connections whose send failed after their handle had left: they were closed. */
  failed: number
  /** Connections not sent (the successor's channel had closed): drained here as before. */
  fellBack: number
}

/** The predecessor's side: decides which connections are left to the hand-over and sends those at a request boundary. */
export class Handover {
  readonly report: HandoverReport = { moved: 0, failed: 0, fellBack: 0 }
  private readonly target: HandoverTarget
  private readonly addresses: Map<net.Server, string>
  private readonly sending = new WeakSet<net.Socket>()
  /** Connections that could not be sent: the old drain takes them. */
  private readonly refused = new WeakSet<net.Socket>()
  /** Connections held (not read any more) that wait for their turn to be sent. */
  private readonly queue: Queued[] = []
  /** The queued entry of each connection that waits (see move: one answered meanwhile is at a new boundary). */
  private readonly queued = new WeakMap<net.Socket, Queued>()
  private inFlight = 0
  /** Called with each connection that could not be sent (the drain then watches it as idle). */
  onFallBack: ((socket: net.Socket) => void) | undefined
  /** Called with each connection that read again while it waited its turn: it is moved later. */
  onDeferred: ((socket: net.Socket) => void) | undefined

  /**
   * @param addresses for each server whose connections may move, the address of its listening
   *   socket (see listeningAddresses): the successor's server on that socket adopts them
   */
  constructor (target: HandoverTarget, addresses: Map<net.Server, string>) {
    this.target = target
    this.addresses = addresses
  }

  /**
   * Whether `socket` is left to the hand-over (not answered with `Connection: close`, not closed
   * when idle): its server's connections can move and it still speaks HTTP.
   */
  keeps (socket: net.Socket): boolean {
    const server = acceptedBy(socket)
    return server != null && this.addresses.has(server) && canMove(server) && httpParser(socket) !== null && !this.refused.has(socket)
  }

  /** Whether `socket` was given to the channel (sent, or on its way). */
  isSending (socket: net.Socket): boolean {
    return this.sending.has(socket)
  }

  /**
   * Sends those of `sockets` that are at a request boundary; the others are tried again later
   * (after their response). A socket sent is destroyed here once its handle has gone.
   */
  move (sockets: Iterable<net.Socket>): void {
    const idle = new Map<http.Server, Set<net.Socket>>()
    for (const socket of sockets) {
      const server = acceptedBy(socket) as http.Server
      const waits = this.queued.get(socket)
      if ((this.sending.has(socket) && waits === undefined) || !this.keeps(socket)) continue
      let idleSockets = idle.get(server)
      if (idleSockets === undefined) idle.set(server, idleSockets = parserIdle(server))
      if (!atBoundary(socket, idleSockets)) continue
      // still waiting its turn, answered meanwhile: at a boundary again, it keeps its place
      if (waits !== undefined) waits.bytesRead = socket.bytesRead
      else this.send(socket, this.addresses.get(server) as string)
    }
  }

  private send (socket: net.Socket, address: string): void {
    this.sending.add(socket)
    // no timer of this process may close it while it waits for its turn
    socket.setTimeout(0)
    // it is still read and served here until its turn comes: a request that arrives meanwhile
    // is answered at once, not held behind the connections before it (200 kept-alive clients
    // in W3 waited up to a second), and the connection moves after its response
    const entry = { socket, address, bytesRead: socket.bytesRead }
    this.queue.push(entry)
    this.queued.set(socket, entry)
    this.pump()
  }

  /**
   * Gives the queued connections to the channel, at most IN_FLIGHT at a time: Node sends one
   * handle at a time (each waits for the receiver's acknowledgement) and, at each one, sends
   * again every message queued behind it, so 10,000 connections given at once cost it
   * 10,000 x 10,000 steps (measured: 399 of 10,000 moved in 10 s; bench/idle-drain.js).
   */
  private pump (): void {
    while (this.inFlight < IN_FLIGHT && this.queue.length > 0) {
      const { socket, address, bytesRead } = this.queue.shift()!
      this.queued.delete(socket)
      // closed while it waited (by its client, or at the drain's deadline)
      if (socket.destroyed) continue
      // it read while it waited (a request begun or answered, an upgrade): no longer at the
      // boundary it was at; nothing changes without a read, so the rest need not be checked
      if (socket.bytesRead !== bytesRead) {
        this.sending.delete(socket)
        this.onDeferred?.(socket)
        continue
      }
      // nothing more is read here from now on: what the client sends waits in the kernel's
      // receive buffer and moves with the fd. node:http restarts reading by itself (a request
      // whose body nobody read is dumped on the next tick, which resumes the socket): a request
      // read meanwhile would be answered by a socket whose handle is gone. The handle is
      // stopped and marked as reading, so that nothing in this process starts it again.
      socket.pause()
      const handle = holdReading(socket)
      this.inFlight++
      this.transmit(socket, address, handle)
    }
  }

  private transmit (socket: net.Socket, address: string, handle: object | null): void {
    // Node tracks a socket of a net.Server sent to another process for cluster (the server's
    // close() would then wait for the successor's connections): a socket without its server
    // is sent as a plain connection
    const server = setSocketServer(socket, null)
    this.target.send({ hotRestart: 'connection', socket: address }, socket, handle, (err) => {
      this.inFlight--
      this.pump()
      if (err !== null && handle !== null && hasHandle(socket, handle)) {
        // never sent (the channel to the successor had closed): this process serves it on,
        // and drains it as it drains what cannot move
        setSocketServer(socket, server)
        resumeHandle(handle)
        this.refused.add(socket)
        this.report.fellBack++
        socket.resume()
        this.onFallBack?.(socket)
        return
      }
      if (err === null) this.report.moved++
      else this.report.failed++
      // the handle has gone (or was closed by Node when its send failed): the socket object
      // goes too, and counts no more among the server's connections
      socket.destroy()
    })
  }
}

/** The servers whose drain runs (drain.ts), until it ends: each still takes a connection handed over to it. */
export const drainsRunning = new Set<net.Server>()

/** The process that receives connections (the upgrader of a successor). */
export interface Receiver {
  /** True once it drains: a connection that arrives then goes to a drain that runs, or is closed. */
  readonly draining: boolean
  /** `listenerOf`: what a server listens or listened on, also once it has closed (see Sockets). */
  readonly sockets: { readonly listeners: Iterable<Pick<Listener, 'server' | 'inherited'>>, listenerOf (server: net.Server): Pick<Listener, 'inherited'> | undefined }
}

/**
 * The server of `receiver` that serves the inherited socket of that address, if any. One that
 * drains has stopped accepting and, with no connection left, closed and left the listeners: it
 * is still the one until its drain ends (a stop right after a reload).
 */
function serverOn (receiver: Receiver, address: string): net.Server | undefined {
  const serves = (inherited: SocketEntry | undefined): boolean => inherited !== undefined && describeEntry(inherited) === address
  for (const { server, inherited } of receiver.sockets.listeners) if (serves(inherited)) return server
  for (const server of drainsRunning) if (serves(receiver.sockets.listenerOf(server)?.inherited)) return server
  return undefined
}

/**
 * In a successor: adopts each connection its predecessor sends over this process's IPC channel
 * (`proc`; under a supervisor, the supervisor relays them), into the server that serves the
 * inherited listening socket it came from; while this process drains, into that server's drain
 * while it runs, which answers its request and closes it. One that no server here takes (the new
 * code no longer listens there, or its drain is over) is closed: its client sees it close. A
 * message of another shape is not for this; one without its handle closed on its way.
 * @param done resolves when nothing more can arrive (the predecessor has exited); without it,
 *   connections are taken until the remover is called
 * @returns a remover
 */
export function receiveConnections (proc: NodeJS.Process, receiver: Receiver, done?: Promise<void>): () => void {
  const onMessage = (message: unknown, handle: unknown): void => {
    if (!isConnectionMessage(message)) return
    // from a predecessor, a net.Socket; relayed by the supervisor, the raw handle (see handover-relay.ts)
    const socket = handle instanceof net.Socket ? handle : isStreamHandle(handle) ? socketOnHandle(handle) : undefined
    if (socket === undefined) return
    const server = serverOn(receiver, message.socket)
    if (server === undefined || (receiver.draining && !drainsRunning.has(server))) socket.destroy()
    else adopt(server, socket)
  }
  const stop = (): void => { proc.removeListener('message', onMessage) }
  proc.on('message', onMessage)
  done?.then(stop, stop)
  return stop
}
