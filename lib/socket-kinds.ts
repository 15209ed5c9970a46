/**
 * The kinds of socket handed over (`tcp` and `unix`: a net.Server listens; `udp`: a dgram
 * socket opened by name), and for each, in one table: how it is described to the successor
 * (its manifest entry and its fd), how the successor adopts it (which of its calls claims it,
 * and how it checks the socket it got), how /proc lists it, and what outlives its close (a
 * unix socket's path). A new kind is one more row here and one more entry type in protocol.ts.
 */
import { closeSync, readFileSync } from 'node:fs'
import type dgram from 'node:dgram'
import type net from 'node:net'
import { datagramHandle, handleFd, serverHandle, setPipeName, type NativeHandle } from './node-internals'
import type { ListenRequest, SocketEntry, TcpEntry, UdpEntry, UnixEntry } from './protocol'
import { removeUnixPath } from './unix-path'

/** Reads a /proc/net table (`tcp`, `udp6`, `unix`...) as rows of columns; none when unreadable. */
export type ProcRows = (file: string) => string[][]

/** What the library does with one kind of socket. */
export interface Kind<E extends SocketEntry> {
  /** The call that claims an inherited socket of this kind in a successor. */
  claimedBy: 'listen' | 'bind'
  /** Whether the inherited `entry` serves what the successor's code asks for. */
  serves (entry: E, request: ListenRequest): boolean
  /**
   * Whether the socket opened from the entry's fd is bound where the entry says, given its
   * `address()`. A pipe opened from an fd cannot tell its path: trusted.
   */
  boundAs (entry: E, address: net.AddressInfo | string | null): boolean
  /** Prepares `server` to listen on the entry's fd (before it listens: its own handlers run first). */
  adopting (server: net.Server, entry: E): void
  /** Whether /proc (Linux) lists the socket `inode` as listening where the entry says. */
  listensIn (rows: ProcRows, inode: string, entry: E): boolean
  /** Removes what outlives the socket's close. */
  unlink (entry: E): void
}

/** Whether an inherited TCP or UDP socket is bound where `request` asks. */
function sameRequest (entry: TcpEntry | UdpEntry, request: ListenRequest): boolean {
  if (request.path !== undefined) return false
  if (entry.requested.host === request.host && entry.requested.port === request.port) return true
  return request.port !== 0 && entry.port === request.port && (entry.address === request.host || entry.requested.host === request.host)
}

function sameAddress (entry: TcpEntry | UdpEntry, address: net.AddressInfo | string | null): boolean {
  // a tcp entry whose fd is a unix socket has no such address (null or a path): not the same
  return typeof address === 'object' && address !== null && address.port === entry.port && address.address === entry.address
}

/**
 * `sl local_address rem_address st ... inode`: a row of /proc/net/tcp* or udp* whose inode is
 * the socket's, in the listening state `state`, on the entry's port.
 */
function inetListens (files: string[], state: string): Kind<TcpEntry | UdpEntry>['listensIn'] {
  return (rows, inode, entry) => files.some(file => rows(file).some(cols =>
    cols[9] === inode && cols[3] === state && Number.parseInt(String(cols[1]).split(':')[1] as string, 16) === entry.port))
}

const nothing = (): void => {}

const tcp: Kind<TcpEntry> = {
  claimedBy: 'listen',
  serves: sameRequest,
  boundAs: sameAddress,
  adopting: nothing,
  listensIn: inetListens(['tcp', 'tcp6'], '0A'), // TCP_LISTEN
  unlink: nothing
}

const udp: Kind<UdpEntry> = {
  claimedBy: 'bind',
  serves: sameRequest,
  boundAs: sameAddress,
  adopting: nothing,
  listensIn: inetListens(['udp', 'udp6'], '07'), // TCP_CLOSE: an unconnected, bound UDP socket
  unlink: nothing
}

const unix: Kind<UnixEntry> = {
  claimedBy: 'listen',
  serves: (entry, request) => request.path !== undefined && (entry.path === request.path || entry.requested.path === request.path),
  boundAs: () => true,
  // net.Server#address() falls back to the name it was given for a pipe; an fd has none
  adopting: (server, entry) => setPipeName(server, entry.path),
  // Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 is __SO_ACCEPTCON (listening)
  listensIn: (rows, inode) => rows('unix').some(cols => cols[6] === inode && cols[3] === '00010000'),
  // closing never unlinks the path (see unix-path.ts): whoever stops serving it removes it
  unlink: entry => removeUnixPath(entry.path)
}

const kinds: { [K in SocketEntry['kind']]: Kind<Extract<SocketEntry, { kind: K }>> } = { tcp, udp, unix }

/** The row of `entry`'s kind (an entry read from a manifest or a message was checked: its kind is known). */
export function kindOf<E extends SocketEntry> (entry: E): Kind<E> {
  return kinds[entry.kind] as unknown as Kind<E>
}

/** Whether an inherited socket serves a successor's `listen()` (`claimedBy` 'listen') or `bind()`. */
export function claims (entry: SocketEntry, by: 'listen' | 'bind', request: ListenRequest): boolean {
  const kind = kindOf(entry)
  return kind.claimedBy === by && kind.serves(entry, request)
}

/** Removes what outlives an entry's socket once nobody serves it again (a unix socket's path). */
export function unlinkEntry (entry: SocketEntry): void {
  kindOf(entry).unlink(entry)
}

/**
 * Closes an inherited socket that nobody claimed, and removes its path: the new code listens
 * elsewhere, and a path left behind would make a later bind of it fail with EADDRINUSE.
 */
export function closeInherited (entry: SocketEntry): void {
  try { closeSync(entry.fd) } catch {}
  unlinkEntry(entry)
}

/**
 * Whether the socket `inode` is listening where the entry says, by /proc (Linux; `proc`: where
 * it is mounted). False for a kind this version does not know, or where /proc cannot tell.
 */
export function listedAsListening (entry: SocketEntry, inode: string, proc: string): boolean {
  const rows: ProcRows = file => {
    try {
      return readFileSync(`${proc}/net/${file}`, 'utf8').split('\n').slice(1).map(row => row.trim().split(/\s+/))
    } catch {
      return []
    }
  }
  return Object.hasOwn(kinds, entry.kind) && kindOf(entry).listensIn(rows, inode, entry)
}

/**
 * The native handle of a listening server or a bound dgram socket (what a generation sends the
 * supervisor), or null when it has none (closed, or not listening yet).
 */
export function handleOf (open: { server: net.Server } | { socket: dgram.Socket }): NativeHandle | null {
  return 'server' in open ? serverHandle(open.server) : datagramHandle(open.socket)
}

/**
 * The manifest entry of an open socket, as the successor will know it (at fd `position`), and
 * its fd here; undefined when it has none to hand over (not listening, closed).
 */
export function entryOf (open: { requested: ListenRequest, name?: string } & ({ server: net.Server } | { socket: dgram.Socket }), position: number): { entry: SocketEntry, fd: number } | undefined {
  const fd = handleFd(handleOf(open))
  if (fd === undefined || ('server' in open && (!open.server.listening || open.server.address() === null))) return undefined
  const { requested, name } = open
  if ('socket' in open) {
    const { address, port } = open.socket.address()
    return { entry: { fd: position, kind: 'udp', name, requested, address, port }, fd }
  }
  const address = open.server.address() as net.AddressInfo | string
  if (typeof address === 'string') return { entry: { fd: position, kind: 'unix', requested, path: address, name }, fd }
  return { entry: { fd: position, kind: 'tcp', requested, address: address.address, port: address.port, name }, fd }
}
