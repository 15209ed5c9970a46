// lib/socket-kinds.ts in-process, with real sockets: for each kind, which call claims an
// inherited socket and for what request, how the adopted socket is checked, its manifest entry
// and handle, and what is removed once nobody serves it.
import dgram from 'node:dgram'
import { once } from 'node:events'
import { existsSync, fstatSync, openSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import type { TcpEntry, UdpEntry, UnixEntry } from '../../lib/protocol'
import { claims, closeInherited, entryOf, handleOf, kindOf, unlinkEntry } from '../../lib/socket-kinds'
import { tempDir } from '../helpers/app'

const tcp: TcpEntry = { fd: 3, kind: 'tcp', requested: { host: 'localhost', port: 3000 }, address: '127.0.0.1', port: 3000 }
const udp: UdpEntry = { fd: 4, kind: 'udp', name: 'statsd', requested: { host: '', port: 0 }, address: '0.0.0.0', port: 8125 }
const unix: UnixEntry = { fd: 5, kind: 'unix', requested: { host: '', port: 0, path: 'app.sock' }, path: '/run/app.sock' }

t.test('which call claims an inherited socket, for which request', async t => {
  t.ok(claims(tcp, 'listen', { host: 'localhost', port: 3000 }), 'tcp: listen() asking what the predecessor asked')
  t.ok(claims(tcp, 'listen', { host: '127.0.0.1', port: 3000 }), 'tcp: or where it is bound')
  t.notOk(claims(tcp, 'listen', { host: '127.0.0.1', port: 0 }), 'not any port')
  t.notOk(claims(tcp, 'listen', { host: '::1', port: 3000 }), 'not another address')
  t.notOk(claims(tcp, 'listen', { host: '', port: 0, path: '/run/app.sock' }), 'not a path')
  t.notOk(claims(tcp, 'bind', { host: 'localhost', port: 3000 }), 'not a dgram bind()')
  t.ok(claims(udp, 'bind', { host: '', port: 0 }), 'udp: bind() asking what the predecessor asked')
  t.ok(claims(udp, 'bind', { host: '0.0.0.0', port: 8125 }), 'udp: or where it is bound')
  t.notOk(claims(udp, 'listen', { host: '', port: 0 }), 'never a listen()')
  t.ok(claims(unix, 'listen', { host: '', port: 0, path: 'app.sock' }), 'unix: the path as asked')
  t.ok(claims(unix, 'listen', { host: '', port: 0, path: '/run/app.sock' }), 'unix: or as bound')
  t.notOk(claims(unix, 'listen', { host: '', port: 0, path: 'other.sock' }), 'not another path')
  t.notOk(claims(unix, 'listen', { host: '', port: 0 }), 'not a port')
})

t.test('how the adopted socket is checked against its entry', async t => {
  t.ok(kindOf(tcp).boundAs(tcp, { address: '127.0.0.1', port: 3000, family: 'IPv4' }))
  t.notOk(kindOf(tcp).boundAs(tcp, { address: '127.0.0.1', port: 3001, family: 'IPv4' }), 'another port')
  t.notOk(kindOf(tcp).boundAs(tcp, { address: '::1', port: 3000, family: 'IPv6' }), 'another address')
  t.notOk(kindOf(tcp).boundAs(tcp, null), 'a unix socket opened from the fd has no address')
  t.notOk(kindOf(tcp).boundAs(tcp, '/run/app.sock'), 'or a path')
  t.ok(kindOf(udp).boundAs(udp, { address: '0.0.0.0', port: 8125, family: 'IPv4' }))
  t.ok(kindOf(unix).boundAs(unix, null), 'a pipe opened from an fd cannot tell its path: trusted')
  const server = net.createServer()
  kindOf(unix).adopting(server, unix)
  kindOf(tcp).adopting(server, tcp)
  t.equal((server as unknown as { _pipeName?: string })._pipeName, '/run/app.sock', 'a unix socket is named before it listens on the fd')
})

t.test('the entry and handle of each open socket', async t => {
  const dir = tempDir('fhr-kinds-')
  const path = join(dir, 's.sock')
  const server = net.createServer()
  const requested = { host: '127.0.0.1', port: 0 }
  t.equal(entryOf({ server, requested }, 3), undefined, 'a server that does not listen has none')
  t.equal(handleOf({ server }), null)
  await once(server.listen(0, '127.0.0.1'), 'listening')
  const pipe = net.createServer()
  await once(pipe.listen(path), 'listening')
  const socket = dgram.createSocket('udp4')
  t.equal(entryOf({ socket, requested, name: 'statsd' }, 3), undefined, 'a dgram socket not bound has none')
  await once(socket.bind(0, '127.0.0.1'), 'listening')
  t.teardown(() => { server.close(); pipe.close() })
  const port = (server.address() as net.AddressInfo).port
  const tcpFound = entryOf({ server, requested }, 3)
  t.same(tcpFound?.entry, { fd: 3, kind: 'tcp', requested, address: '127.0.0.1', port })
  t.ok(fstatSync(tcpFound!.fd).isSocket(), 'with its fd here')
  t.same(entryOf({ server: pipe, requested: { host: '', port: 0, path }, name: 'admin' }, 4)?.entry,
    { fd: 4, kind: 'unix', requested: { host: '', port: 0, path }, path, name: 'admin' })
  const udpFound = entryOf({ socket, requested, name: 'statsd' }, 5)
  t.same(udpFound?.entry, { fd: 5, kind: 'udp', name: 'statsd', requested, address: '127.0.0.1', port: socket.address().port })
  t.equal(handleOf({ socket })?.fd, udpFound?.fd, 'the handle sent to the supervisor is the one whose fd is handed over')
  t.equal(handleOf({ server })?.fd, tcpFound?.fd)
  socket.close()
  t.equal(entryOf({ socket, requested, name: 'statsd' }, 5), undefined, 'a closed one has none')
})

t.test('what is removed once nobody serves a socket', async t => {
  const dir = tempDir('fhr-kinds-')
  const path = join(dir, 'left.sock')
  writeFileSync(path, '')
  unlinkEntry(tcp)
  unlinkEntry(udp)
  unlinkEntry({ ...unix, path })
  t.notOk(existsSync(path), 'a unix socket\'s path')
  unlinkEntry({ ...unix, path })
  t.pass('a path already gone is no error')

  // an inherited socket nobody claimed: its fd (a file stands for it) is closed, its path removed
  const unclaimed = join(dir, 'unclaimed.sock')
  writeFileSync(unclaimed, '')
  const fd = openSync(unclaimed, 'r')
  closeInherited({ fd, kind: 'unix', requested: { host: '', port: 0, path: unclaimed }, path: unclaimed })
  t.throws(() => fstatSync(fd), { code: 'EBADF' }, 'its fd is closed')
  t.notOk(existsSync(unclaimed), 'its path removed')
  closeInherited({ ...tcp, fd })
  t.pass('an fd already closed is no error')
})
