/**
 * Every private or undocumented field and function of Node that the library reaches, in one
 * place. Each is a small typed function that says what it reads, why no public API does, and
 * which Node versions it was checked on; test/node-internals.test.ts checks each one on real
 * objects, so that a Node release that changes one fails there, by name, instead of as a
 * reload that loses connections. Checked on Node 20.20, 22.23 and 24.21 unless said otherwise.
 */
import type dgram from 'node:dgram'
import type http from 'node:http'
import net from 'node:net'

/**
 * A libuv handle as Node's JavaScript sees it (a TCP, Pipe or UDP wrap): its fd (-1 when it has
 * none) and `close()`. What `net.Server#_handle` and a dgram socket's state hold, what
 * `_createServerHandle` returns, and what a handle sent over an IPC channel arrives as.
 */
export interface NativeHandle {
  fd: number
  close (): void
}

/** A handle of a connection (`net.Socket#_handle`): it can stop reading. */
interface StreamHandle {
  reading?: boolean
  readStop? (): number
}

/** The fields Node keeps on the sockets of its servers (none is documented). */
interface InternalSocket extends net.Socket {
  _handle?: StreamHandle | null
  _httpMessage?: http.ServerResponse | null
  parser?: unknown
  _server?: net.Server | null
  server?: net.Server | null
}

/**
 * `server._handle`: the listening handle of a net.Server, null when it does not listen. No
 * public API gives a server's fd or its handle, and a handle is what the IPC channel sends to
 * the supervisor (a net.Server object cannot be sent without cluster's machinery).
 */
export function serverHandle (server: net.Server): NativeHandle | null {
  return (server as unknown as { _handle?: NativeHandle | null })._handle ?? null
}

/** `handle.fd`: the fd of a native handle, if it has one (>= 0; libuv has none on Windows). */
export function handleFd (handle: { fd?: number } | null | undefined): number | undefined {
  const fd = handle?.fd
  return typeof fd === 'number' && fd >= 0 ? fd : undefined
}

/**
 * Sets `server._pipeName`: the path that `server.address()` reports for a unix socket. A
 * server that listens on an fd (an inherited socket) or under a temporary name (renamed onto
 * its path) would report null or the temporary name; nothing public sets it.
 */
export function setPipeName (server: net.Server, path: string): void {
  (server as unknown as { _pipeName?: string })._pipeName = path
}

/**
 * Whether `listen()` options pass a handle or an fd: the documented `handle` and `fd`, and the
 * undocumented `_handle` that `net.Server#listen` accepts as well (cluster uses it).
 */
export function listensOnHandle (options: Record<string, unknown>): boolean {
  return options.handle !== undefined || options._handle !== undefined || options.fd !== undefined
}

/**
 * The handle of a dgram socket, null once closed: Node keeps it in the socket's state, under a
 * symbol described `state symbol` (lib/internal/dgram.js `kStateSymbol`). The public API gives
 * neither the handle nor the fd.
 * @throws TypeError when the state is missing (a Node that moved it: the tests say so)
 */
export function datagramHandle (socket: dgram.Socket): NativeHandle | null {
  const key = Object.getOwnPropertySymbols(socket).find(symbol => symbol.description === 'state symbol')
  const state = key === undefined ? undefined : (socket as unknown as Record<symbol, { handle?: NativeHandle | null } | undefined>)[key]
  if (state === undefined) throw new TypeError('fastify-hot-restart: this Node keeps no dgram socket state under "state symbol"')
  return state.handle ?? null
}

/** A bound, not listening, TCP or Pipe handle; `getsockname` on TCP only. */
export interface ServerHandle extends NativeHandle {
  getsockname? (out: { address?: string, port?: number }): number
}

/**
 * `net._createServerHandle(address, port, addressType)`: node:net's own constructor of
 * cluster's shared handles, a TCP (port >= 0) or Pipe (port -1: `address` is a path) handle,
 * bound and not listening, or a negative errno. Public APIs only bind by listening, and a
 * listening socket accepts: the supervisor of `run --listen` must bind without accepting.
 */
export function createServerHandle (address: string | null, port: number, addressType: number): ServerHandle | number {
  const create = (net as unknown as { _createServerHandle (address: string | null, port: number, addressType: number): ServerHandle | number })._createServerHandle
  return create(address, port, addressType)
}

/**
 * `handle.getsockname(out)` of a TCP handle: where it is bound, or a negative errno (libuv
 * defers a TCP bind's EADDRINUSE or EACCES until then). A handle has no public address.
 */
export function boundAddress (handle: ServerHandle): { address: string, port: number } | number {
  const out: { address?: string, port?: number } = {}
  // `!`: a TCP handle has it (a Pipe handle has not: never asked)
  const err = handle.getsockname!(out)
  return err < 0 ? err : { address: out.address as string, port: out.port as number }
}

/**
 * `http.Server[kConnections]` (a symbol described `http.server.connections`, Node >= 18.2): the
 * server's list of HTTP/1 connections; `idle()` gives the parsers between two messages, as
 * `closeIdleConnections()` uses it. Undefined on a server that has none (HTTP/2). Nothing
 * public tells whether a connection's parser has begun a request.
 */
export function httpConnections (server: http.Server): { idle (): Array<{ socket?: net.Socket }> } | undefined {
  const key = Object.getOwnPropertySymbols(server).find(symbol => symbol.description === 'http.server.connections')
  return key === undefined ? undefined : (server as unknown as Record<symbol, { idle (): Array<{ socket?: net.Socket }> }>)[key]
}

/**
 * `socket._httpMessage`: the response node:http is writing on the socket (the first of any
 * pipelined ones), null or undefined when there is none. No public API tells a busy connection.
 */
export function currentResponse (socket: net.Socket): http.ServerResponse | null | undefined {
  return (socket as InternalSocket)._httpMessage
}

/**
 * `socket.parser`: the HTTP parser of a node:http connection; null once the connection left HTTP
 * (an upgrade, CONNECT) or closed, undefined on a socket that never spoke HTTP/1.
 */
export function httpParser (socket: net.Socket): unknown {
  return (socket as InternalSocket).parser
}

/** `socket._server`: the server that accepted (or adopted) the socket, if any. */
export function acceptedBy (socket: net.Socket): net.Server | null | undefined {
  return (socket as InternalSocket)._server
}

/**
 * Makes `server` own `socket` as if it had accepted it: `server._connections` counts it (so
 * `close()` and `getConnections()` wait for it), and `socket._server` and `socket.server` name
 * the server. Node's own `onconnection` does this; there is no public way.
 */
export function adoptConnection (server: net.Server, socket: net.Socket): void {
  (server as unknown as { _connections: number })._connections++
  const s = socket as InternalSocket
  s._server = server
  s.server = server
}

/**
 * Sets `socket.server` (its server for child_process: a socket sent with it set is tracked for
 * cluster, and its server's `close()` then waits for the receiver's connections).
 * @returns the server it had
 */
export function setSocketServer (socket: net.Socket, server: net.Server | null | undefined): net.Server | null | undefined {
  const s = socket as InternalSocket
  const had = s.server
  s.server = server
  return had
}

/**
 * Stops reading on the socket's handle and marks it as reading (`handle.reading = true`), so
 * that nothing in this process (`socket.resume()`, node:http's dump of an unread request) starts
 * it again: `socket.pause()` alone does not stop a handle that is already reading.
 * @returns the handle (to give to `resumeHandle` or `hasHandle`), or null when it has none
 */
export function holdReading (socket: net.Socket): object | null {
  const handle = (socket as InternalSocket)._handle ?? null
  handle?.readStop?.()
  if (handle !== null) handle.reading = true
  return handle
}

/** Undoes `holdReading`'s mark, so that the next `socket.resume()` reads again. */
export function resumeHandle (handle: object): void {
  (handle as StreamHandle).reading = false
}

/** Whether `socket._handle` is still `handle` (a socket sent over IPC loses its handle). */
export function hasHandle (socket: net.Socket, handle: object): boolean {
  return (socket as InternalSocket)._handle === handle
}

/**
 * A net.Socket on a raw stream handle (a TCP or Pipe wrap received over IPC as `net.Native`,
 * see handover-relay.ts), reading at once: what child_process itself makes of a net.Socket it
 * receives. The constructor's `handle` option is not documented.
 */
export function socketOnHandle (handle: object): net.Socket {
  return new net.Socket({ handle, readable: true, writable: true } as net.SocketConstructorOpts)
}
