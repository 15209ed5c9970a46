/**
 * `run --listen <address>`: the supervisor binds a socket itself before generation 1 starts
 * (systemd socket activation's model), and every generation inherits it as a handed-over
 * socket. The supervisor only binds: generation 1's `listen()` on the inherited fd makes it
 * listen, so the supervisor never accepts a connection (until then, connections are refused as
 * for any server that has not started). From then on the socket is held open as in plain
 * supervised mode. A unix socket is bound under a temporary name and renamed, so that closing
 * the supervisor's handle never unlinks the path (see unix-path.ts).
 */
import { existsSync } from 'node:fs'
import net from 'node:net'
import { getSystemErrorName } from 'node:util'
import type { ListenRequest } from './manifest'
import { boundAddress, createServerHandle } from './node-internals'
import type { Held } from './protocol'
import { bindUnixPath } from './unix-path'

/**
 * Parses a `--listen` value: `PORT` (every address, as `listen(PORT)`), `HOST:PORT` or
 * `[IPV6]:PORT` (an IP address), or a unix socket path (containing a `/`).
 * @throws an Error that names the value and what is expected
 */
export function parseListen (value: string): ListenRequest {
  if (value.includes('/')) return { host: '', port: 0, path: value }
  const m = /^(?:(\[[^\]]+\]|[^:[\]]+):)?(\d+)$/.exec(value)
  const host = m?.[1]?.replace(/^\[(.*)\]$/, '$1') ?? ''
  const port = Number(m?.[2])
  if (m === null || port > 65535 || (host !== '' && net.isIP(host) === 0)) {
    throw new Error(`--listen expects PORT, HOST:PORT (HOST an IP address, [brackets] around IPv6) or a unix socket path containing a "/", got "${value}"`)
  }
  return { host, port }
}

/**
 * Binds what `--listen` asked for.
 * @throws an Error that names the address and the errno (EADDRINUSE, EACCES, ...)
 */
export function bindListen (requested: ListenRequest): Held {
  if (requested.path !== undefined) {
    // renaming over an existing path would silently take it from whoever serves it
    if (existsSync(requested.path)) throw new Error(`--listen ${requested.path}: cannot bind (EADDRINUSE): the path exists; remove it if no server uses it`)
    const handle = bindUnixPath(requested.path, temp => {
      const bound = createServerHandle(temp, -1, -1)
      if (typeof bound === 'number') throw new Error(`--listen ${requested.path}: cannot bind (${getSystemErrorName(bound)})`)
      return bound
    })
    return { entry: { fd: 0, kind: 'unix', requested, path: requested.path }, handle }
  }
  const handle = createServerHandle(requested.host === '' ? null : requested.host, requested.port, net.isIP(requested.host))
  const where = requested.host === '' ? String(requested.port) : `${requested.host}:${requested.port}`
  if (typeof handle === 'number') throw new Error(`--listen ${where}: cannot bind (${getSystemErrorName(handle)})`)
  // libuv defers a TCP bind's EADDRINUSE (or EACCES): getsockname reports it
  const bound = boundAddress(handle)
  if (typeof bound === 'number') {
    handle.close()
    throw new Error(`--listen ${where}: cannot bind (${getSystemErrorName(bound)})`)
  }
  return { entry: { fd: 0, kind: 'tcp', requested, ...bound }, handle }
}
