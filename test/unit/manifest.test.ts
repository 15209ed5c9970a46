import { spawn } from 'node:child_process'
import dgram from 'node:dgram'
import { once } from 'node:events'
import { closeSync, mkdirSync, openSync, symlinkSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { tempDir } from '../helpers/app'
import { MANIFEST_ENV, encodeManifest, listensAsNamed, readManifest, successorEnv, type Manifest } from '../../lib/manifest'
import { datagramFd, fdOf } from '../../lib/sockets'
import { stat } from '../helpers/proc'

t.test('readManifest', async t => {
  const server = net.createServer()
  await once(server.listen(0, '127.0.0.1'), 'listening')
  t.teardown(() => server.close())
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd
  const file = openSync(join(tempDir('fhr-manifest-'), 'file'), 'w')
  const tcp = { fd, kind: 'tcp', requested: { host: '127.0.0.1', port: 0 }, address: '127.0.0.1', port: 1 }
  const unix = { fd, kind: 'unix', requested: { host: '', port: 0, path: '/tmp/s' }, path: '/tmp/s' }
  const udp = { fd, kind: 'udp', name: 'statsd', requested: { host: '127.0.0.1', port: 0 }, address: '127.0.0.1', port: 2 }
  const good = { version: 1, pid: 77, generation: 2, cwd: '/', sockets: [tcp, unix, udp] }
  const env = (m: unknown): NodeJS.ProcessEnv => ({ [MANIFEST_ENV]: typeof m === 'string' ? m : JSON.stringify(m) })

  t.same(readManifest({}, 77), { kind: 'none' })
  t.same(readManifest({ [MANIFEST_ENV]: '' }, 77), { kind: 'none' })
  t.same(readManifest(env(good), 77), { kind: 'ours', manifest: good })
  t.same(readManifest(env({ ...good, sockets: [{ ...tcp, fd: 9999 }] }), 1), { kind: 'foreign', pid: 77 }, 'a foreign manifest is not checked further')

  const bad: Array<[unknown, RegExp]> = [
    ['{', /is not JSON/],
    ['[1]', /is not a JSON object/],
    ['null', /is not a JSON object/],
    [{ ...good, pid: 'x' }, /no valid "pid"/],
    [{ ...good, version: 2 }, /unsupported manifest version 2 \(expected 1\)/],
    [{ ...good, generation: 0 }, /no valid "generation"/],
    [{ ...good, cwd: 5 }, /no valid "cwd"/],
    [{ ...good, sockets: {} }, /no "sockets" array/],
    [{ ...good, sockets: [null] }, /socket 0 is not an object/],
    [{ ...good, sockets: [{ ...tcp, fd: 2 }] }, /socket 0 has no valid fd \(got 2\)/],
    [{ ...good, sockets: [{ ...tcp, requested: null }] }, /fd \d+: missing or malformed "requested"/],
    [{ ...good, sockets: [{ ...tcp, requested: { host: 1, port: 0 } }] }, /malformed "requested"/],
    [{ ...good, sockets: [{ ...tcp, requested: { host: '', port: -1 } }] }, /malformed "requested"/],
    [{ ...good, sockets: [{ ...tcp, address: 1 }] }, /a tcp socket needs "address" and "port"/],
    [{ ...good, sockets: [{ ...tcp, port: 0 }] }, /a tcp socket needs "address" and "port"/],
    [{ ...good, sockets: [{ ...unix, path: '' }] }, /a unix socket needs "path"/],
    [{ ...good, sockets: [{ ...tcp, kind: 'sctp' }] }, /unknown kind "sctp" \(expected "tcp", "unix" or "udp"\)/],
    [{ ...good, sockets: [{ ...udp, port: undefined }] }, /a udp socket needs "address" and "port"/],
    [{ ...good, sockets: [{ ...udp, name: '' }] }, /"name" is not a non-empty string/],
    [{ ...good, sockets: [{ ...tcp, name: 5 }] }, /"name" is not a non-empty string/],
    [{ ...good, sockets: [{ ...tcp, fd: 9999 }] }, /fd 9999 is not open \(EBADF\)/],
    [{ ...good, sockets: [{ ...tcp, fd: file }] }, new RegExp(`fd ${file} is not a socket`)]
  ]
  for (const [m, message] of bad) {
    t.throws(() => readManifest(env(m), 77), { code: 'FST_HOT_RESTART_BAD_MANIFEST', message }, String(message))
  }
})

t.test('successorEnv scrubs inherited protocol variables and adds the new manifest', async t => {
  const manifest: Manifest = { version: 1, pid: 1, generation: 2, cwd: '/', sockets: [] }
  const next = successorEnv({ PATH: '/bin', NODE_CHANNEL_FD: '3', NODE_CHANNEL_SERIALIZATION_MODE: 'json', [MANIFEST_ENV]: 'stale' }, manifest)
  t.same(next, { PATH: '/bin', [MANIFEST_ENV]: encodeManifest(manifest) })
})

t.test('readManifest removes the variable once read', async t => {
  const env: NodeJS.ProcessEnv = { PATH: '/bin', [MANIFEST_ENV]: JSON.stringify({ version: 1, pid: 1, generation: 2, cwd: '/', sockets: [] }) }
  readManifest(env, 2)
  t.same(env, { PATH: '/bin' }, 'gone, foreign or not')
  const empty: NodeJS.ProcessEnv = { [MANIFEST_ENV]: '' }
  t.same(readManifest(empty, 2), { kind: 'none' })
  t.same(empty, {})
})

t.test('a successor whose predecessor died (it was reparented) is told from a process that copied the environment', async t => {
  const tcpServer = net.createServer()
  await once(tcpServer.listen(0, '127.0.0.1'), 'listening')
  const unixPath = join(tempDir('fhr-manifest-'), 'app.sock')
  const unixServer = net.createServer()
  await once(unixServer.listen(unixPath), 'listening')
  const udp = dgram.createSocket('udp4')
  await new Promise<void>(resolve => udp.bind(0, '127.0.0.1', resolve))
  const client = net.connect((tcpServer.address() as net.AddressInfo).port, '127.0.0.1')
  await once(client, 'connect')
  t.teardown(() => { client.destroy(); tcpServer.close(); unixServer.close(); udp.close() })
  const port = (tcpServer.address() as net.AddressInfo).port
  const tcp = { fd: fdOf(tcpServer) as number, kind: 'tcp', requested: { host: '127.0.0.1', port: 0 }, address: '127.0.0.1', port }
  const unix = { fd: fdOf(unixServer) as number, kind: 'unix', requested: { host: '', port: 0, path: unixPath }, path: unixPath }
  const dgramEntry = { fd: datagramFd(udp) as number, kind: 'udp', name: 'statsd', requested: { host: '127.0.0.1', port: 0 }, address: '127.0.0.1', port: udp.address().port }
  const connected = { ...tcp, fd: (client as unknown as { _handle: { fd: number } })._handle.fd }

  // a pid that no process has any more
  const gone = spawn(process.execPath, ['-e', ''])
  await once(gone, 'exit')
  const dead = gone.pid as number
  const manifest = { version: 1, pid: dead, generation: 2, cwd: '/', sockets: [tcp, unix, dgramEntry] }
  const env = (m: unknown): NodeJS.ProcessEnv => ({ [MANIFEST_ENV]: JSON.stringify(m) })

  t.same(readManifest(env(manifest), 1, 1), { kind: 'ours', manifest, orphaned: true }, 'its pid is gone, the fds are the listening sockets it names')
  t.same(readManifest(env({ ...manifest, pid: 1 }), 5, 1), { kind: 'ours', manifest: { ...manifest, pid: 1 }, orphaned: true }, 'the parent when the module loaded')
  t.same(readManifest(env({ ...manifest, pid: process.pid }), 1, 1), { kind: 'foreign', pid: process.pid }, 'its pid is alive and not the parent: copied')
  t.same(readManifest(env({ ...manifest, pid: process.pid }), 1, 1, tempDir('fhr-no-proc-')), { kind: 'foreign', pid: process.pid }, 'alive, without /proc either')
  // a zombie (it exited; `sleep`, its parent, never reaps it) is gone. It outlives the exec by
  // a second: one that exited before it was reaped by sh (seen at load average 15: no zombie)
  const parent = spawn('sh', ['-c', 'sleep 1 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] })
  t.teardown(() => parent.kill('SIGKILL'))
  const [zombie] = await once(parent.stdout!, 'data') as [Buffer]
  const zombiePid = Number(String(zombie).trim())
  // polled: no event says that a process of another parent became a zombie (at most 10 s)
  for (let i = 0; i < 1000 && stat(zombiePid)?.state !== 'Z'; i++) await new Promise(resolve => setTimeout(resolve, 10))
  t.equal(stat(zombiePid)?.state, 'Z', 'a zombie')
  t.same(readManifest(env({ ...manifest, pid: zombiePid }), 1, 1), { kind: 'ours', manifest: { ...manifest, pid: zombiePid }, orphaned: true }, 'a zombie predecessor is gone')
  t.same(readManifest(env({ ...manifest, sockets: [] }), 1, 1), { kind: 'foreign', pid: dead }, 'no socket to bear it out')
  t.same(readManifest(env({ ...manifest, sockets: {} }), 1, 1), { kind: 'foreign', pid: dead })
  t.same(readManifest(env({ ...manifest, sockets: [connected] }), 1, 1), { kind: 'foreign', pid: dead }, 'a connection, not a listening socket')
  t.same(readManifest(env({ ...manifest, sockets: [{ ...tcp, port: port === 65535 ? 1 : port + 1 }] }), 1, 1), { kind: 'foreign', pid: dead }, 'another port')
  t.same(readManifest(env({ ...manifest, sockets: [{ ...tcp, fd: 9999 }] }), 1, 1), { kind: 'foreign', pid: dead }, 'an fd that is not open')

  t.equal(listensAsNamed(null), false)
  t.equal(listensAsNamed({ ...tcp, fd: 2 }), false)
  t.equal(listensAsNamed({ ...tcp, kind: 'sctp' }), false)
  t.equal(listensAsNamed({ ...unix, fd: tcp.fd }), false, 'a tcp socket is no unix one')
  const file = openSync(join(tempDir('fhr-manifest-'), 'file'), 'w')
  t.teardown(() => closeSync(file))
  t.equal(listensAsNamed({ ...tcp, fd: file }), false, 'a file')
  // a /proc with the fd but no socket tables (a container that hides /proc/net)
  const proc = tempDir('fhr-proc-')
  mkdirSync(join(proc, 'self', 'fd'), { recursive: true })
  symlinkSync('socket:[1]', join(proc, 'self', 'fd', String(tcp.fd)))
  t.equal(listensAsNamed(tcp, proc), false)
  t.equal(listensAsNamed(tcp), true)
})
