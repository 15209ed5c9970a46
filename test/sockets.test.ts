import { once } from 'node:events'
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { SocketEntry } from '../lib/manifest'
import { describeEntry, fdOf, handOver, matches, parseListenArgs, Sockets, unlinkPaths } from '../lib/sockets'

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
  const path = join(mkdtempSync(join(tmpdir(), 'fhr-')), 's.sock')
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
  t.same(handOver([{ server: c, requested: { host: '', port: 0 } }]), { entries: [], fds: [] }, 'a server that does not listen is not handed over')
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
  const dir = mkdtempSync(join(tmpdir(), 'fhr-'))
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
