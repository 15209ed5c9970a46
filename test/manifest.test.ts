import { once } from 'node:events'
import { openSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { MANIFEST_ENV, encodeManifest, readManifest, successorEnv, type Manifest } from '../lib/manifest'

t.test('readManifest', async t => {
  const server = net.createServer()
  await once(server.listen(0, '127.0.0.1'), 'listening')
  t.teardown(() => server.close())
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd
  const file = openSync(join(tmpdir(), `fhr-manifest-${process.pid}`), 'w')
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
