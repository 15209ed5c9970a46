// lib/node-internals.ts on real objects: each private or undocumented field or function of
// Node that the library reaches. A Node release that renames or changes one fails here, with
// the field's name in the assertion, before any reload test does. Run on Node 20, 22 and 24.
import dgram from 'node:dgram'
import { once } from 'node:events'
import { existsSync, statSync } from 'node:fs'
import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { tempDir } from '../helpers/app'
import {
  acceptedBy, adoptConnection, boundAddress, createServerHandle, currentResponse, datagramHandle, handleFd, hasHandle, holdReading,
  httpConnections, httpParser, listensOnHandle, resumeHandle, serverHandle, setPipeName, setSocketServer, socketOnHandle, type ServerHandle
} from '../../lib/node-internals'

const node = `Node ${process.version}`

async function listening<S extends net.Server> (server: S, ...args: unknown[]): Promise<S> {
  server.listen(...args as [])
  await once(server, 'listening')
  return server
}

/** A connection to `server`, and the socket the server accepted for it. */
async function connection (server: net.Server): Promise<{ client: net.Socket, accepted: net.Socket }> {
  const accepted = once(server, 'connection')
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  await once(client, 'connect')
  const [socket] = await accepted as [net.Socket]
  return { client, accepted: socket }
}

t.test('net.Server#_handle: a listening server\'s handle and its fd', async t => {
  const server = await listening(net.createServer(), 0, '127.0.0.1')
  const handle = serverHandle(server)
  t.equal(typeof handle?.close, 'function', `${node}: net.Server#_handle is a native handle with close()`)
  t.ok((handleFd(handle) ?? -1) > 2, `${node}: net.Server#_handle.fd is the listening socket's fd`)
  t.ok(statSync(`/proc/self/fd/${handleFd(handle)}`, { throwIfNoEntry: false }) !== undefined || process.platform !== 'linux', 'an open fd')
  server.close()
  t.equal(serverHandle(server), null, `${node}: net.Server#_handle is null once closed`)
  t.equal(handleFd(undefined), undefined)
  t.equal(handleFd({ fd: -1 }), undefined, 'a handle without an fd')
})

t.test('net.Server#_pipeName: what address() reports for a unix socket', async t => {
  const path = join(tempDir('fhr-internals-'), 's.sock')
  const server = await listening(net.createServer(), path)
  t.teardown(() => server.close())
  t.equal(server.address(), path)
  setPipeName(server, '/the/path/it/serves')
  t.equal(server.address(), '/the/path/it/serves', `${node}: net.Server#address() reports net.Server#_pipeName for a pipe`)
})

t.test('net._createServerHandle: a TCP handle bound and not listening; listen({ _handle })', async t => {
  const handle = createServerHandle('127.0.0.1', 0, 4)
  t.not(typeof handle, 'number', `${node}: net._createServerHandle binds a TCP handle`)
  const bound = boundAddress(handle as ServerHandle)
  t.match(bound, { address: '127.0.0.1', port: Number }, `${node}: a TCP handle's getsockname() gives where it is bound`)
  const { port } = bound as { port: number }
  const refused = net.connect(port, '127.0.0.1')
  const [err] = await once(refused, 'error') as [NodeJS.ErrnoException]
  t.equal(err.code, 'ECONNREFUSED', 'bound, not listening: nothing accepts')
  // both bound with SO_REUSEADDR and neither listening, two binds of one port succeed: a
  // listening socket's port is taken
  const busy = await listening(net.createServer(), 0, '127.0.0.1')
  const taken = createServerHandle('127.0.0.1', (busy.address() as net.AddressInfo).port, 4)
  busy.close()
  t.equal(typeof taken === 'number' ? taken : boundAddress(taken), -98, `${node}: binding a port in use reports EADDRINUSE (-98) by getsockname or at once`)
  if (typeof taken !== 'number') taken.close()

  t.ok(listensOnHandle({ _handle: handle }), 'a listen() given `_handle`...')
  t.ok(listensOnHandle({ handle: {} }) && listensOnHandle({ fd: 3 }), '`handle` or `fd`...')
  t.notOk(listensOnHandle({ port: 0, host: '127.0.0.1' }), '...listens on a handle; one given a port does not')
  const server = await listening(net.createServer(socket => socket.end('served')), { _handle: handle })
  t.teardown(() => server.close())
  t.equal((server.address() as net.AddressInfo).port, port, `${node}: net.Server#listen({ _handle }) listens on that handle`)
  const client = net.connect(port, '127.0.0.1')
  const [data] = await once(client, 'data') as [Buffer]
  t.equal(String(data), 'served')
})

t.test('net._createServerHandle: a Pipe handle bound to a path', async t => {
  const dir = tempDir('fhr-internals-')
  const path = join(dir, 'p.sock')
  const handle = createServerHandle(path, -1, -1)
  t.not(typeof handle, 'number', `${node}: net._createServerHandle binds a Pipe handle for port -1`)
  t.ok(existsSync(path) && statSync(path).isSocket(), 'the socket file exists')
  t.ok((handleFd(handle as ServerHandle) ?? -1) > 2, 'with an fd')
  ;(handle as ServerHandle).close()
  t.equal(typeof createServerHandle(join(dir, 'missing', 'p.sock'), -1, -1), 'number', `${node}: a failed bind is a negative errno`)
})

t.test('dgram: the handle under the socket\'s "state symbol"', async t => {
  const socket = dgram.createSocket('udp4')
  socket.bind(0, '127.0.0.1')
  await once(socket, 'listening')
  const handle = datagramHandle(socket)
  t.ok((handleFd(handle) ?? -1) > 2, `${node}: dgram.Socket[state symbol].handle.fd is the bound socket's fd`)
  t.equal(typeof handle?.close, 'function')
  socket.close()
  t.equal(datagramHandle(socket), null, `${node}: the handle is null once closed`)
  t.throws(() => datagramHandle({} as dgram.Socket), /no dgram socket state/, 'a socket without the state fails loudly')
})

t.test('node:http sockets: _httpMessage, parser, _server, server; http.Server[kConnections]', async t => {
  let inHandler: { current: unknown, parser: unknown, server: unknown } | undefined
  const server = await listening(http.createServer((req, res) => {
    inHandler = { current: currentResponse(req.socket), parser: httpParser(req.socket), server: acceptedBy(req.socket) }
    if (inHandler.current !== res) throw new Error('not the response')
    res.end('ok')
  }), 0, '127.0.0.1')
  t.teardown(() => { server.closeAllConnections(); server.close() })
  server.on('upgrade', (_req, socket: net.Socket) => {
    t.equal(httpParser(socket), null, `${node}: net.Socket#parser is null once the connection left HTTP (upgrade)`)
    socket.end('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n')
  })
  const { client, accepted } = await connection(server)
  t.teardown(() => client.destroy())
  t.ok(httpConnections(server) !== undefined, `${node}: http.Server has its connections list under "http.server.connections"`)
  client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  await once(client, 'data')
  t.ok(inHandler !== undefined)
  t.ok(inHandler?.current !== undefined, `${node}: net.Socket#_httpMessage is the response being written`)
  t.ok(typeof inHandler?.parser === 'object' && inHandler.parser !== null, `${node}: net.Socket#parser is the HTTP parser`)
  t.equal(inHandler?.server, server, `${node}: net.Socket#_server is the server that accepted it`)
  t.notOk(currentResponse(accepted), `${node}: no net.Socket#_httpMessage once the response is written`)
  const idle = httpConnections(server)?.idle().map(parser => parser.socket)
  t.ok(idle?.includes(accepted), `${node}: http.Server[kConnections].idle() gives the parsers between two requests, with their socket`)
  const upgrade = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  t.teardown(() => upgrade.destroy())
  upgrade.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n')
  await once(upgrade, 'data')

  const plain = await listening(net.createServer(), 0, '127.0.0.1')
  t.teardown(() => plain.close())
  const other = await connection(plain)
  t.teardown(() => other.client.destroy())
  t.equal(httpParser(other.accepted), undefined, 'a socket that never spoke HTTP has no parser')
  t.equal(httpConnections(http2.createServer() as unknown as http.Server), undefined, 'an HTTP/2 server has no such list')
})

t.test('adopting a socket: _connections, _server, server', async t => {
  const server = await listening(net.createServer(), 0, '127.0.0.1')
  const other = await listening(net.createServer(), 0, '127.0.0.1')
  t.teardown(() => { server.close(); other.close() })
  const { client, accepted } = await connection(other)
  t.teardown(() => client.destroy())
  const count = (): Promise<number> => new Promise(resolve => server.getConnections((_err, n) => resolve(n)))
  const before = await count()
  adoptConnection(server, accepted)
  t.equal(await count(), before + 1, `${node}: net.Server#_connections counts the adopted socket`)
  t.equal(acceptedBy(accepted), server)
  t.equal(setSocketServer(accepted, null), server, `${node}: net.Socket#server names the server`)
  t.equal(setSocketServer(accepted, server), null)
})

t.test('holding a socket\'s handle: readStop, reading', async t => {
  const server = await listening(http.createServer((_req, res) => res.end('ok')), 0, '127.0.0.1')
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const { client, accepted } = await connection(server)
  t.teardown(() => client.destroy())
  const request = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'
  client.write(request)
  await once(client, 'data')
  accepted.pause()
  const handle = holdReading(accepted)
  t.equal(typeof (handle as { readStop?: unknown } | null)?.readStop, 'function', `${node}: net.Socket#_handle.readStop() exists`)
  t.equal((handle as { reading?: boolean }).reading, true, `${node}: net.Socket#_handle.reading is what resume() checks`)
  t.ok(hasHandle(accepted, handle as object))
  client.write(request)
  resumeHandle(handle as object)
  t.equal((handle as { reading?: boolean }).reading, false)
  accepted.resume()
  const [data] = await once(client, 'data') as [Buffer]
  t.match(String(data), /^HTTP\/1.1 200/, 'a request that arrived while held is read and answered once resumed')
  accepted.destroy()
  t.notOk(hasHandle(accepted, handle as object), `${node}: a destroyed socket has no net.Socket#_handle`)
  t.equal(holdReading(accepted), null, 'nothing to hold')
})

t.test('new net.Socket({ handle }): a socket on a raw handle, as IPC delivers one of type net.Native', async t => {
  const server = await listening(http.createServer((_req, res) => res.end('on the handle')), 0, '127.0.0.1')
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const other = await listening(net.createServer({ pauseOnConnect: true }), 0, '127.0.0.1')
  t.teardown(() => other.close())
  const { client, accepted } = await connection(other)
  t.teardown(() => client.destroy())
  const handle = holdReading(accepted) as object
  resumeHandle(handle) // a handle received over IPC is a new one, not marked as reading
  ;(accepted as unknown as { _handle: unknown })._handle = null // given up, as a sent socket's is
  const socket = socketOnHandle(handle)
  t.ok(hasHandle(socket, handle), `${node}: the socket wraps the handle`)
  server.emit('connection', socket)
  client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  const [data] = await once(client, 'data') as [Buffer]
  t.match(String(data), /on the handle$/, 'it reads and writes: node:http serves it')
})
