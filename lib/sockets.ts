/**
 * Inherit-or-listen. One hook on `net.Server.prototype.listen` per process does two things:
 * - it records every server of the process that listens on TCP or a unix socket, with what its
 *   code asked for, so that an upgrade can hand all of them over;
 * - in a successor, it turns a `listen()` whose request matches an inherited socket into a
 *   listen on that socket's fd, so the socket is never closed and never bound twice.
 * Every server is covered, including the extra ones Fastify creates for `localhost`.
 * Sockets opened by name (`socket(name, ...)`: a net.Server, or a dgram socket, which has no
 * listen() to hook) are claimed by name: only the socket of that name gets that fd.
 */
import dgram from 'node:dgram'
import { closeSync, existsSync, rmSync } from 'node:fs'
import net from 'node:net'
import { BadManifestError, InvalidOptionError } from './errors'
import { FIRST_FD, type ListenRequest, type SocketEntry } from './manifest'
import { datagramHandle, handleFd, listensOnHandle, serverHandle, setPipeName } from './node-internals'
import { describe } from './options'
import { describeEntry } from './protocol'
import { bindUnixPath } from './unix-path'

export { describeEntry }

/** A server of this process that is listening, and what was asked for. */
export interface Listener {
  server: net.Server
  requested: ListenRequest
  /** The inherited socket it serves, if any. */
  inherited?: SocketEntry
  /** The name it was opened under, if any. */
  name?: string
}

/** A UDP socket of this process, opened by name. */
export interface Datagram {
  socket: dgram.Socket
  name: string
  requested: ListenRequest
  inherited?: SocketEntry
}

/**
 * `socket(name, socket, options)` of both adapters: opens a socket that is handed over across
 * reloads by name. A dgram socket binds (`port`, `address`), a net.Server listens (`port`,
 * `host`, or `path`); in a successor, each serves the socket of the same name that its
 * predecessor had. Call it before the app listens. Resolves with the address.
 */
export interface OpenSocket {
  (name: string, socket: dgram.Socket, options?: Omit<dgram.BindOptions, 'fd'>): Promise<net.AddressInfo>
  (name: string, server: net.Server, options?: net.ListenOptions): Promise<net.AddressInfo | string>
}

/** Where a named socket binds: a net.Server's listen options, or a dgram socket's bind options. */
export interface SocketOptions {
  port?: number
  /** For a dgram socket. */
  address?: string
  /** For a net.Server. */
  host?: string
  /** For a net.Server on a unix socket. */
  path?: string
  [key: string]: unknown
}

interface ParsedListen {
  request: ListenRequest | null
  /** The options object, when listen() was given one. */
  options?: Record<string, unknown>
  backlog?: number
  signal?: AbortSignal
  cb?: (...args: unknown[]) => void
}

type ListenFn = (this: net.Server, ...args: unknown[]) => net.Server

function isPort (v: unknown): boolean {
  return typeof v === 'number' || (typeof v === 'string' && v !== '' && Number.isFinite(Number(v)))
}

/** Understands the forms `listen()` accepts (see node's `normalizeArgs`). */
export function parseListenArgs (args: unknown[]): ParsedListen {
  const last = args[args.length - 1]
  const cb = typeof last === 'function' ? last as ParsedListen['cb'] : undefined
  const first = args[0]
  if (first === undefined || typeof first === 'function') return { request: { host: '', port: 0 }, cb }
  if (typeof first === 'object' && first !== null) {
    const o = first as Record<string, unknown>
    if (listensOnHandle(o)) return { request: null, cb }
    const common = { cb, backlog: typeof o.backlog === 'number' ? o.backlog : undefined, signal: o.signal as AbortSignal | undefined, options: o }
    if (typeof o.path === 'string') return { request: { host: '', port: 0, path: o.path }, ...common }
    return { request: { host: typeof o.host === 'string' ? o.host : '', port: o.port === undefined ? 0 : Number(o.port) }, ...common }
  }
  if (isPort(first)) {
    const host = typeof args[1] === 'string' ? args[1] : ''
    const rest = args.slice(typeof args[1] === 'string' ? 2 : 1)
    return { request: { host, port: Number(first) }, backlog: typeof rest[0] === 'number' ? rest[0] : undefined, cb }
  }
  if (typeof first === 'string') {
    return { request: { host: '', port: 0, path: first }, backlog: typeof args[1] === 'number' ? args[1] : undefined, cb }
  }
  return { request: null, cb }
}

/** Whether an inherited socket serves what a listen call asks for. */
export function matches (entry: SocketEntry, req: ListenRequest): boolean {
  if (req.path !== undefined) return entry.kind === 'unix' && (entry.path === req.path || entry.requested.path === req.path)
  return entry.kind === 'tcp' && sameRequest(entry, req)
}

/** Whether an inherited TCP or UDP socket is bound where `req` asks. */
function sameRequest (entry: SocketEntry, req: ListenRequest): boolean {
  if (entry.requested.host === req.host && entry.requested.port === req.port) return true
  return req.port !== 0 && entry.port === req.port && (entry.address === req.host || entry.requested.host === req.host)
}

/** The fd of a bound dgram socket, if it has one. */
export function datagramFd (socket: dgram.Socket): number | undefined {
  return handleFd(datagramHandle(socket))
}

/**
 * Checks the arguments of `socket(name, socket, options)`.
 * @throws FST_HOT_RESTART_INVALID_OPTION
 */
export function checkNamedSocket (name: unknown, socket: unknown, options: unknown): asserts options is SocketOptions {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidOptionError(`Expected the socket name to be a non-empty string, got ${describe(name)}`)
  }
  if (!(socket instanceof net.Server) && !(socket instanceof dgram.Socket)) {
    throw new InvalidOptionError(`Expected socket "${name}" to be a net.Server or a dgram.Socket, got ${describe(socket)}`)
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError(`Expected the options of socket "${name}" to be an object, got ${describe(options)}`)
  }
  const o = options as Record<string, unknown>
  if (o.port !== undefined && (typeof o.port !== 'number' || !Number.isInteger(o.port) || o.port < 0 || o.port > 65535)) {
    throw new InvalidOptionError(`Expected the port of socket "${name}" to be an integer from 0 to 65535, got ${describe(o.port)}`)
  }
  for (const key of ['fd', 'handle']) {
    if (o[key] !== undefined) throw new InvalidOptionError(`Socket "${name}": \`${key}\` cannot be given; the socket is bound here, or inherited`)
  }
}

/** The fd of a listening server's handle, if it has one. */
export function fdOf (server: net.Server): number | undefined {
  return handleFd(serverHandle(server))
}

/**
 * Listens on a new unix socket so that closing it never unlinks its path (see unix-path.ts);
 * the path goes away only at the final shutdown (see unlinkPaths).
 */
function listenOnPath (server: net.Server, original: ListenFn, path: string, parsed: ParsedListen): net.Server {
  // the bind is synchronous; a failure is emitted later as the server's 'error' (and nothing is renamed)
  bindUnixPath(path, temp => original.call(server, { backlog: parsed.backlog, ...parsed.options, path: temp }, parsed.cb))
  setPipeName(server, path)
  return server
}

/** Removes the unix socket paths of these listeners (at the last generation's shutdown). */
export function unlinkPaths (listeners: Iterable<Listener>): void {
  for (const { requested } of listeners) {
    if (requested.path !== undefined) rmSync(requested.path, { force: true })
  }
}

/** Whether a bound address is the one the manifest names. */
function sameAddress (server: net.Server, entry: SocketEntry): boolean {
  if (entry.kind === 'unix') return true // a pipe opened from an fd cannot tell its path
  // a tcp entry whose fd is a unix socket has no such address (null or a path): not the same
  const address = server.address()
  return typeof address === 'object' && address !== null && address.port === entry.port && address.address === entry.address
}

/** Logger calls the hook makes; a pino logger fits. */
export interface SocketsLogger {
  info (obj: object, msg: string): void
}

/**
 * The process-wide registry of listening servers and inherited sockets.
 */
export class Sockets {
  readonly listeners = new Set<Listener>()
  /** UDP sockets opened by name. */
  readonly datagrams = new Set<Datagram>()
  private readonly names = new WeakMap<net.Server, string>()
  private readonly unclaimed: SocketEntry[]
  private original: ListenFn | undefined
  private readonly log: SocketsLogger | undefined
  /** Called for every server that starts listening through the hook. */
  onListening: ((listener: Listener) => void) | undefined

  private readonly inheritedCount: number

  constructor (inherited: SocketEntry[] = [], log?: SocketsLogger) {
    this.unclaimed = [...inherited]
    this.inheritedCount = inherited.length
    this.log = log
  }

  /**
   * Patches `net.Server.prototype.listen` for this registry.
   * @returns a remover that restores the original
   */
  install (): () => void {
    if (this.original !== undefined) return () => this.uninstall()
    const original = net.Server.prototype.listen as unknown as ListenFn
    this.original = original
    const self = this
    const hooked = function listen (this: net.Server, ...args: unknown[]): net.Server {
      return self.listen(this, original, args)
    }
    net.Server.prototype.listen = hooked as unknown as typeof net.Server.prototype.listen
    return () => this.uninstall()
  }

  private uninstall (): void {
    if (this.original !== undefined) net.Server.prototype.listen = this.original as unknown as typeof net.Server.prototype.listen
    this.original = undefined
  }

  private listen (server: net.Server, original: ListenFn, args: unknown[]): net.Server {
    const parsed = parseListenArgs(args)
    const request = parsed.request
    // a handle or an fd the app passes itself is its own business: not handed over
    if (request === null) return original.apply(server, args)
    const name = this.names.get(server)
    const index = this.unclaimed.findIndex(entry => entry.name === name && matches(entry, request))
    if (index === -1) {
      server.once('listening', () => this.record(server, request, undefined, name))
      if (request.path !== undefined && !existsSync(request.path)) return listenOnPath(server, original, request.path, parsed)
      return original.apply(server, args)
    }
    const [entry] = this.unclaimed.splice(index, 1) as [SocketEntry]
    // net.Server#address() falls back to the name it was given for a pipe; an fd has none.
    // Set before listening: the app's own 'listening' handlers run before ours.
    if (entry.kind === 'unix') setPipeName(server, entry.path)
    const onListening = (): void => this.record(server, request, entry, name)
    server.once('listening', onListening)
    original.call(server, { fd: entry.fd, backlog: parsed.backlog, signal: parsed.signal }, parsed.cb)
    // the handle is opened from the fd at once and 'listening' comes on the next tick (only if
    // the handle is still open): a socket that is not what the manifest says fails the listen
    // before any 'listening' handler runs (Fastify's reads the address)
    if (server.listening && !sameAddress(server, entry)) {
      const got = JSON.stringify(server.address())
      server.removeListener('listening', onListening)
      server.close()
      process.nextTick(() => server.emit('error', new BadManifestError(`fd ${entry.fd} is bound to ${got}, not to ${entry.address}:${entry.port} as the manifest says`)))
    }
    return server
  }

  /**
   * Listens `server` under `name`, through the hook: in a successor, on the inherited socket of
   * that name if it was asked for with the same options.
   * @returns the address, once it listens
   */
  listenNamed (server: net.Server, name: string, options: SocketOptions): Promise<net.AddressInfo | string> {
    this.names.set(server, name)
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(options, () => {
        server.removeListener('error', reject)
        resolve(server.address() as net.AddressInfo | string)
      })
    })
  }

  /**
   * Binds a dgram socket under `name`: in a successor, to the inherited socket of that name
   * (`bind({ fd })`) if it was asked for with the same port and address.
   * @returns the address, once bound
   */
  bindDatagram (socket: dgram.Socket, name: string, options: SocketOptions): Promise<net.AddressInfo> {
    const requested: ListenRequest = { host: options.address ?? '', port: options.port ?? 0 }
    const index = this.unclaimed.findIndex(entry => entry.kind === 'udp' && entry.name === name && sameRequest(entry, requested))
    const entry = index === -1 ? undefined : this.unclaimed.splice(index, 1)[0]
    return new Promise((resolve, reject) => {
      socket.once('error', reject)
      socket.once('listening', () => {
        socket.removeListener('error', reject)
        const address = socket.address()
        if (entry !== undefined && (address.port !== entry.port || address.address !== entry.address)) {
          socket.close()
          reject(new BadManifestError(`fd ${entry.fd} is bound to ${JSON.stringify(address)}, not to ${describeEntry(entry)} as the manifest says`))
          return
        }
        this.log?.info({ fd: entry?.fd, name, address: describeEntry({ fd: 0, kind: 'udp', requested, address: address.address, port: address.port }) },
          entry === undefined ? 'hot-restart: bound a new UDP socket' : 'hot-restart: serving an inherited socket')
        const datagram: Datagram = { socket, name, requested, inherited: entry }
        this.datagrams.add(datagram)
        socket.once('close', () => this.datagrams.delete(datagram))
        resolve(address)
      })
      socket.bind(entry === undefined ? options : { fd: entry.fd })
    })
  }

  private record (server: net.Server, requested: ListenRequest, entry: SocketEntry | undefined, name: string | undefined): void {
    if (entry !== undefined) {
      this.log?.info({ fd: entry.fd, address: describeEntry(entry) }, 'hot-restart: serving an inherited socket')
    }
    const listener: Listener = { server, requested, inherited: entry, name }
    if (entry === undefined && this.inheritedCount > 0) {
      this.log?.info({ address: server.address() }, 'hot-restart: no inherited socket matches; bound a new one')
    }
    this.listeners.add(listener)
    server.once('close', () => this.listeners.delete(listener))
    this.onListening?.(listener)
  }

  /**
   * Closes the inherited sockets that no listen call claimed (once the successor is ready), and
   * unlinks their unix socket paths.
   * @returns the entries closed
   */
  closeUnclaimed (): SocketEntry[] {
    const closed = this.unclaimed.splice(0)
    for (const entry of closed) {
      try { closeSync(entry.fd) } catch {}
      // the new code listens elsewhere: a path left behind would make a later bind of it fail
      // with EADDRINUSE (closing never unlinks it: see listenOnPath)
      if (entry.kind === 'unix') rmSync(entry.path as string, { force: true })
    }
    return closed
  }
}

/**
 * Describes the listening servers (and named UDP sockets) for a successor: the manifest
 * entries (fd 3, 4, ... in the order of `listeners`, then `datagrams`) and the fds to put at
 * those positions of its stdio.
 */
export function handOver (listeners: Iterable<Listener>, datagrams: Iterable<Datagram> = []): { entries: SocketEntry[], fds: number[], servers: Map<net.Server, number> } {
  const entries: SocketEntry[] = []
  const fds: number[] = []
  // each server's listening socket as the successor will know it (its fd there)
  const servers = new Map<net.Server, number>()
  for (const { server, requested, name } of listeners) {
    const fd = fdOf(server)
    const address = server.address()
    if (fd === undefined || !server.listening || address === null) continue
    const position = FIRST_FD + fds.length
    if (typeof address === 'string') {
      entries.push({ fd: position, kind: 'unix', requested, path: address, name })
    } else {
      entries.push({ fd: position, kind: 'tcp', requested, address: address.address, port: address.port, name })
    }
    fds.push(fd)
    servers.set(server, position)
  }
  for (const { socket, requested, name } of datagrams) {
    const fd = datagramFd(socket)
    if (fd === undefined) continue
    const { address, port } = socket.address()
    entries.push({ fd: FIRST_FD + fds.length, kind: 'udp', name, requested, address, port })
    fds.push(fd)
  }
  return { entries, fds, servers }
}
