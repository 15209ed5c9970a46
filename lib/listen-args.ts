/**
 * What the app gives `listen()` and `socket()`: the forms `net.Server#listen` accepts, read into
 * the request an inherited socket is matched against, and the checked arguments of
 * `socket(name, socket, options)`.
 */
import dgram from 'node:dgram'
import net from 'node:net'
import { InvalidOptionError } from './errors'
import type { ListenRequest } from './manifest'
import { listensOnHandle } from './node-internals'
import { describe } from './options'

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

/** A `listen()` call's arguments: the request (null: a handle or an fd, the app's own business), and what goes with it. */
export interface ParsedListen {
  request: ListenRequest | null
  /** The options object, when listen() was given one. */
  options?: Record<string, unknown>
  backlog?: number
  signal?: AbortSignal
  cb?: (...args: unknown[]) => void
}

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
