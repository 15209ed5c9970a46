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
import { existsSync } from 'node:fs'
import net from 'node:net'
import { BadManifestError } from './errors'
import { parseListenArgs, type ParsedListen, type SocketOptions } from './listen-args'
import { FIRST_FD, type ListenRequest, type SocketEntry } from './manifest'
import { handleFd, setPipeName } from './node-internals'
import { describeEntry } from './protocol'
import { claims, closeInherited, entryOf, handleOf, kindOf } from './socket-kinds'
import { bindUnixPath, removeUnixPath } from './unix-path'

// the adapters' type of socket(), declared with its arguments' checks
export type { OpenSocket } from './listen-args'

type ListenFn = (this: net.Server, ...args: unknown[]) => net.Server

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

/** Whether an inherited socket serves what a listen call asks for. */
export function matches (entry: SocketEntry, req: ListenRequest): boolean {
  return claims(entry, 'listen', req)
}

/** The fd of a bound dgram socket, if it has one. */
export function datagramFd (socket: dgram.Socket): number | undefined {
  return handleFd(handleOf({ socket }))
}

/** The fd of a listening server's handle, if it has one. */
export function fdOf (server: net.Server): number | undefined {
  return handleFd(handleOf({ server }))
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
    if (requested.path !== undefined) removeUnixPath(requested.path)
  }
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
  /** Each listener recorded, by its server, also once that server has closed (see listenerOf). */
  private readonly recorded = new WeakMap<net.Server, Listener>()
  /** UDP sockets opened by name. */
  readonly datagrams = new Set<Datagram>()
  private readonly names = new WeakMap<net.Server, string>()
  private readonly unclaimed: SocketEntry[]
  private original: ListenFn | undefined
  private readonly log: SocketsLogger | undefined
  /** Called for every server that starts listening through the hook. */
  onListening: ((listener: Listener) => void) | undefined
  /**
   * While set, every listen() and named UDP bind is handed to it instead of run: `go` runs it
   * later (a hot standby's spare, which boots but does not accept until told; see spare.ts).
   */
  park: ((server: net.Server | dgram.Socket, go: () => void) => void) | undefined

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
    if (this.park !== undefined) {
      this.park(server, () => this.listen(server, original, args))
      return server
    }
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
    const kind = kindOf(entry)
    // before listening: the app's own 'listening' handlers run before ours
    kind.adopting(server, entry)
    const onListening = (): void => this.record(server, request, entry, name)
    server.once('listening', onListening)
    original.call(server, { fd: entry.fd, backlog: parsed.backlog, signal: parsed.signal }, parsed.cb)
    // the handle is opened from the fd at once and 'listening' comes on the next tick (only if
    // the handle is still open): a socket that is not what the manifest says fails the listen
    // before any 'listening' handler runs (Fastify's reads the address)
    if (server.listening && !kind.boundAs(entry, server.address())) {
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
    const index = this.unclaimed.findIndex(entry => entry.name === name && claims(entry, 'bind', requested))
    const entry = index === -1 ? undefined : this.unclaimed.splice(index, 1)[0]
    return new Promise((resolve, reject) => {
      socket.once('error', reject)
      socket.once('listening', () => {
        socket.removeListener('error', reject)
        const address = socket.address()
        if (entry !== undefined && !(kindOf(entry)).boundAs(entry, address)) {
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
      const bind = (): void => { socket.bind(entry === undefined ? options : { fd: entry.fd }) }
      if (this.park === undefined) bind()
      else this.park(socket, bind)
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
    this.recorded.set(server, listener)
    server.once('close', () => this.listeners.delete(listener))
    this.onListening?.(listener)
  }

  /**
   * What `server` listens (or listened) on through this registry, also once it has closed and
   * left `listeners`: a server that drains has stopped accepting, and closes once it has no
   * connection left, yet it still takes the connections handed over to it (handover.ts).
   */
  listenerOf (server: net.Server): Listener | undefined {
    return this.recorded.get(server)
  }

  /**
   * Closes the inherited sockets that no listen call claimed (once the successor is ready), and
   * unlinks their unix socket paths.
   * @returns the entries closed
   */
  closeUnclaimed (): SocketEntry[] {
    const closed = this.unclaimed.splice(0)
    for (const entry of closed) closeInherited(entry)
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
  for (const open of [...listeners, ...datagrams]) {
    const found = entryOf(open, FIRST_FD + fds.length)
    if (found === undefined) continue
    entries.push(found.entry)
    fds.push(found.fd)
    if ('server' in open) servers.set(open.server, found.entry.fd)
  }
  return { entries, fds, servers }
}
