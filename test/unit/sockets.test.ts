import dgram from 'node:dgram'
import { once } from 'node:events'
import { existsSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { parseListenArgs } from '../../lib/listen-args'
import type { SocketEntry } from '../../lib/manifest'
import { describeEntry } from '../../lib/protocol'
import { datagramFd, fdOf, handOver, matches, Sockets, unlinkPaths } from '../../lib/sockets'
import { tempDir } from '../helpers/app'

t.test('parseListenArgs understands every form of listen()', async t => {
  const cb = (): void => {}
  const signal = new AbortController().signal
  t.same(parseListenArgs([]), { request: { host: '', port: 0 }, cb: undefined })
  t.same(parseListenArgs([cb]), { request: { host: '', port: 0 }, cb })
  const o = { port: 3000, host: 'localhost', backlog: 10, signal }
  t.same(parseListenArgs([o, cb]), { request: { host: 'localhost', port: 3000 }, cb, backlog: 10, signal, options: o })
  t.same(parseListenArgs([{ port: '3000' }]), { request: { host: '', port: 3000 }, cb: undefined, backlog: undefined, signal: undefined, options: { port: '3000' } })
  t.same(parseListenArgs([{}]), { request: { host: '', port: 0 }, cb: undefined, backlog: undefined, signal: undefined, options: {} })
  t.same(parseListenArgs([{ path: '/tmp/s' }]).request, { host: '', port: 0, path: '/tmp/s' })
  t.same(parseListenArgs([{ fd: 3 }]).request, null)
  t.same(parseListenArgs([{ handle: {} }]).request, null)
  t.same(parseListenArgs([{ _handle: {} }]).request, null)
  t.same(parseListenArgs([3000, '127.0.0.1', 5, cb]), { request: { host: '127.0.0.1', port: 3000 }, backlog: 5, cb })
  t.same(parseListenArgs([3000, 5]), { request: { host: '', port: 3000 }, backlog: 5, cb: undefined })
  t.same(parseListenArgs(['3000', cb]), { request: { host: '', port: 3000 }, backlog: undefined, cb })
  t.same(parseListenArgs(['/tmp/s', 7]), { request: { host: '', port: 0, path: '/tmp/s' }, backlog: 7, cb: undefined })
  t.same(parseListenArgs(['/tmp/s']), { request: { host: '', port: 0, path: '/tmp/s' }, backlog: undefined, cb: undefined })
  t.same(parseListenArgs([true]), { request: null, cb: undefined })
})

t.test('matches', async t => {
  const tcp: SocketEntry = { fd: 3, kind: 'tcp', requested: { host: 'localhost', port: 0 }, address: '127.0.0.1', port: 4000 }
  const unix: SocketEntry = { fd: 4, kind: 'unix', requested: { host: '', port: 0, path: 'rel.sock' }, path: '/abs/rel.sock' }
  t.ok(matches(tcp, { host: 'localhost', port: 0 }), 'what the code asked for')
  t.ok(matches(tcp, { host: '127.0.0.1', port: 4000 }), 'the bound address')
  t.ok(matches(tcp, { host: 'localhost', port: 4000 }), 'the asked host and the bound port')
  t.notOk(matches(tcp, { host: '127.0.0.1', port: 0 }))
  t.notOk(matches(tcp, { host: '::1', port: 4000 }))
  t.notOk(matches(tcp, { host: '', port: 0, path: 'rel.sock' }))
  t.ok(matches(unix, { host: '', port: 0, path: 'rel.sock' }))
  t.ok(matches(unix, { host: '', port: 0, path: '/abs/rel.sock' }))
  t.notOk(matches(unix, { host: '', port: 0, path: 'other.sock' }))
  t.notOk(matches(unix, { host: '127.0.0.1', port: 0 }))
  t.equal(describeEntry(tcp), '127.0.0.1:4000')
  t.equal(describeEntry({ ...tcp, address: '::1' }), '[::1]:4000')
  t.equal(describeEntry(unix), '/abs/rel.sock')
})

t.test('the hook records listening servers, hands them over, and forgets closed ones', async t => {
  const sockets = new Sockets()
  const seen: net.Server[] = []
  sockets.onListening = (l) => { seen.push(l.server) }
  const original = net.Server.prototype.listen
  const remove = sockets.install()
  const hooked = net.Server.prototype.listen
  const again = sockets.install()
  t.equal(net.Server.prototype.listen, hooked, 'installing twice keeps one hook')
  t.teardown(again)
  t.teardown(remove)
  const a = net.createServer()
  const b = net.createServer()
  const path = join(tempDir('fhr-'), 's.sock')
  await once(a.listen(0, '127.0.0.1'), 'listening')
  await once(b.listen(path), 'listening')
  const c = net.createServer()
  t.teardown(() => { a.close(); b.close(); c.close() })
  t.same(seen, [a, b])
  const { entries, fds } = handOver(sockets.listeners)
  t.same(fds, [fdOf(a), fdOf(b)])
  t.match(entries, [
    { fd: 3, kind: 'tcp', requested: { host: '127.0.0.1', port: 0 }, address: '127.0.0.1', port: (a.address() as net.AddressInfo).port },
    { fd: 4, kind: 'unix', requested: { path }, path }
  ])
  t.equal(fdOf(c), undefined)
  t.same(handOver([{ server: c, requested: { host: '', port: 0 } }]), { entries: [], fds: [], servers: new Map() }, 'a server that does not listen is not handed over')
  a.close()
  await once(a, 'close')
  t.equal(sockets.listeners.size, 1, 'a closed server is forgotten')
  // a listen on an fd the app passes itself is left alone
  const d = net.createServer()
  d.listen({ fd: 99999 })
  t.ok((await once(d, 'error'))[0] instanceof Error, 'node reports the bad fd itself')
  t.equal(sockets.listeners.size, 1)
  remove()
  remove()
  t.equal(net.Server.prototype.listen, original, 'the original listen is back')
})

t.test('closeUnclaimed closes the fds nobody claimed', async t => {
  const server = net.createServer()
  await once(server.listen(0, '127.0.0.1'), 'listening')
  // an fd of our own that the test may close: the server's, which it no longer needs afterwards
  const fd = fdOf(server)!
  const sockets = new Sockets([{ fd, kind: 'tcp', requested: { host: '', port: 0 }, address: '127.0.0.1', port: 1 }, { fd: 99999, kind: 'tcp', requested: { host: '', port: 0 }, address: '127.0.0.1', port: 1 }])
  t.same(sockets.closeUnclaimed().map(e => e.fd), [fd, 99999])
  t.same(sockets.closeUnclaimed(), [], 'once')
  server.close()
})

t.test('unix paths: bound under a temporary name then renamed; errors stay the server\'s', async t => {
  const sockets = new Sockets()
  t.teardown(sockets.install())
  const dir = tempDir('fhr-')
  const taken = join(dir, 'taken.sock')
  writeFileSync(taken, '')
  const a = net.createServer()
  a.listen(taken)
  t.equal((await once(a, 'error'))[0].code, 'EADDRINUSE', 'an existing path is refused as Node refuses it')
  const b = net.createServer()
  b.listen({ path: join(dir, 'missing', 'x.sock') })
  t.match((await once(b, 'error'))[0], { code: /^E/ }, 'a bind error is the server\'s error')
  const c = net.createServer()
  const path = join(dir, 'ok.sock')
  await once(c.listen(path, 5), 'listening')
  t.equal(c.address(), path)
  unlinkPaths(sockets.listeners)
  t.notOk(existsSync(path), 'unlinkPaths removes the path')
  c.close()
})

t.test('named sockets: a UDP socket is bound and handed over with its name; a named server claims only its own name', async t => {
  const log: string[] = []
  const sockets = new Sockets([], { info: (_o, msg) => { log.push(msg) } })
  t.teardown(sockets.install())
  const udp = dgram.createSocket('udp4')
  const address = await sockets.bindDatagram(udp, 'statsd', { port: 0, address: '127.0.0.1' })
  t.equal(address.address, '127.0.0.1')
  const fd = datagramFd(udp)
  t.type(fd, 'number')
  const tcp = net.createServer()
  await sockets.listenNamed(tcp, 'echo', { port: 0, host: '127.0.0.1' })
  const { entries, fds } = handOver(sockets.listeners, sockets.datagrams)
  t.same(fds, [fdOf(tcp), fd])
  t.match(entries, [
    { fd: 3, kind: 'tcp', name: 'echo', requested: { host: '127.0.0.1', port: 0 } },
    { fd: 4, kind: 'udp', name: 'statsd', requested: { host: '127.0.0.1', port: 0 }, address: '127.0.0.1', port: address.port }
  ])
  t.same(log, ['hot-restart: bound a new UDP socket'])

  // errors are the socket's own
  const taken = dgram.createSocket('udp4')
  await t.rejects(sockets.bindDatagram(taken, 'taken', { port: address.port, address: '127.0.0.1' }), { code: 'EADDRINUSE' })
  await t.rejects(sockets.bindDatagram(udp, 'again', {}), { code: 'ERR_SOCKET_ALREADY_BOUND' })

  udp.close()
  await once(udp, 'close')
  t.equal(sockets.datagrams.size, 0, 'a closed socket is forgotten')
  t.equal(datagramFd(udp), undefined)
  t.same(handOver([], [{ socket: udp, name: 'statsd', requested: { host: '', port: 0 } }]), { entries: [], fds: [], servers: new Map() }, 'a closed socket is not handed over')
  tcp.close()

  // in a successor: an unnamed listen never claims a named socket's fd, nor the other way round
  const inherited = new Sockets([
    { fd: 99998, kind: 'tcp', name: 'echo', requested: { host: '127.0.0.1', port: 0 }, address: '127.0.0.1', port: 1 },
    { fd: 99999, kind: 'udp', name: 'statsd', requested: { host: '127.0.0.1', port: 0 }, address: '127.0.0.1', port: 1 }
  ])
  const restore = inherited.install()
  const plain = net.createServer()
  await once(plain.listen(0, '127.0.0.1'), 'listening')
  t.equal(inherited.listeners.size, 1)
  t.equal([...inherited.listeners][0]!.inherited, undefined, 'the unnamed server bound fresh')
  const other = dgram.createSocket('udp4')
  await inherited.bindDatagram(other, 'other', { port: 0, address: '127.0.0.1' })
  t.equal([...inherited.datagrams][0]!.inherited, undefined, 'a UDP socket of another name bound fresh')
  t.same(inherited.closeUnclaimed().map(e => e.name), ['echo', 'statsd'], 'the named sockets were left for their names')
  restore()
  plain.close()
  other.close()
})
