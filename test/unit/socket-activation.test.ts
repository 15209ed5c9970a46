// systemd socket activation's variables, in-process: what is taken, what is refused (with the
// variable or fd named), and that the variables are always removed. The sockets are described
// from a /proc made for the test (see test/e2e/socket-activation.test.ts for the real thing).
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { activatedEntries, listeningAddress, takeActivatedSockets } from '../../lib/socket-activation'
import { run } from '../../lib/run'

const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n'
const row = (local: string, st: string, inode: number): string => `   0: ${local} 00000000:0000 ${st} 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 100 0 0 10 0\n`

/** A /proc where fd 3 is a TCP socket on [::]:3000, fd 4 on 127.0.0.1:8080, fd 5 a unix socket, fd 6 one on ::ffff:127.0.0.1:9000. */
function fakeProc (): string {
  const proc = t.testdir({ self: { fd: {} }, net: {} })
  for (const [fd, inode] of [[3, 100], [4, 200], [5, 300], [6, 400], [7, 500]]) symlinkSync(`socket:[${inode}]`, join(proc, 'self', 'fd', String(fd)))
  writeFileSync(join(proc, 'net', 'tcp'), header + row('0100007F:1F90', '0A', 200) + row('0100007F:1F91', '01', 500))
  writeFileSync(join(proc, 'net', 'tcp6'), header + row('00000000000000000000000000000000:0BB8', '0A', 100) + row('0000000000000000FFFF00000100007F:2328', '0A', 400))
  mkdirSync(join(proc, 'net', 'unix-only'))
  return proc
}

t.test('no variables: nothing taken, the environment untouched', async t => {
  const env = { PATH: '/bin' }
  t.same(takeActivatedSockets(env, 10), [])
  t.same(env, { PATH: '/bin' })
})

t.test('for another pid: nothing taken, the variables removed all the same', async t => {
  const env = { LISTEN_PID: '11', LISTEN_FDS: '1', LISTEN_FDNAMES: 'web', PATH: '/bin' }
  t.same(takeActivatedSockets(env, 10), [])
  t.same(env, { PATH: '/bin' }, 'a process started from here cannot misread them')
})

t.test('TCP sockets are described from /proc, with their names', async t => {
  const proc = fakeProc()
  const env = { LISTEN_PID: '10', LISTEN_FDS: '2', LISTEN_FDNAMES: 'web:admin' }
  t.same(takeActivatedSockets(env, 10, proc), [
    { entry: { fd: 3, kind: 'tcp', requested: { host: '', port: 3000 }, address: '::', port: 3000 }, name: 'web' },
    { entry: { fd: 4, kind: 'tcp', requested: { host: '127.0.0.1', port: 8080 }, address: '127.0.0.1', port: 8080 }, name: 'admin' }
  ])
  t.same(env, {})
  t.same(listeningAddress(6, proc), { address: '::ffff:127.0.0.1', port: 9000 }, 'an IPv4-mapped IPv6 address')
  t.equal(listeningAddress(7, proc), undefined, 'a connected socket is not a listening one')
  t.equal(listeningAddress(8, proc), undefined, 'no such fd')
  t.equal(listeningAddress(3, join(proc, 'net', 'unix-only')), undefined, 'no /proc at all')
  const noNet = t.testdir({ self: { fd: {} } })
  symlinkSync('socket:[100]', join(noNet, 'self', 'fd', '3'))
  t.equal(listeningAddress(3, noNet), undefined, 'no /proc/net')
  t.same(takeActivatedSockets({ LISTEN_PID: '10', LISTEN_FDS: '0' }, 10, proc), [], 'LISTEN_FDS=0')
  t.same(takeActivatedSockets({ LISTEN_PID: '10', LISTEN_FDS: '1', LISTEN_FDNAMES: '' }, 10, proc)[0]?.name, undefined, 'an empty name is none')
})

t.test('what is refused names the variable or the fd', async t => {
  const proc = fakeProc()
  t.throws(() => takeActivatedSockets({ LISTEN_PID: 'me', LISTEN_FDS: '1' }, 10, proc), /LISTEN_PID must be a pid, got "me"/)
  t.throws(() => takeActivatedSockets({ LISTEN_PID: '10', LISTEN_FDS: 'two' }, 10, proc), /LISTEN_FDS must be a number of fds from 0 to 1024, got "two"/)
  t.throws(() => takeActivatedSockets({ LISTEN_PID: '10', LISTEN_FDS: '5000' }, 10, proc), /LISTEN_FDS must be a number/)
  t.throws(() => takeActivatedSockets({ LISTEN_PID: '10', LISTEN_FDS: '3' }, 10, proc), /LISTEN_FDS: fd 5 is not a listening TCP socket \(.*not a unix socket path\)/)
})

t.test('a generation 1 and run refuse bad variables: a coded error, exit 1', async t => {
  const saved = { ...process.env }
  t.teardown(() => { for (const name of ['LISTEN_PID', 'LISTEN_FDS']) if (saved[name] === undefined) Reflect.deleteProperty(process.env, name) })
  process.env.LISTEN_PID = String(process.pid)
  process.env.LISTEN_FDS = 'many'
  t.throws(() => activatedEntries({ info () {} }), { code: 'FST_HOT_RESTART_SOCKET_ACTIVATION', message: /cannot use the sockets systemd passed: LISTEN_FDS must be/ })
  t.equal(process.env.LISTEN_FDS, undefined, 'removed')
  process.env.LISTEN_PID = String(process.pid)
  process.env.LISTEN_FDS = 'many'
  const logged: object[] = []
  const log = { info () {}, warn () {}, error: (obj: object) => { logged.push(obj) } }
  t.equal(await run(['--', process.execPath, 'app.js'], { err: { write: () => true } }, log), 1)
  t.match(logged, [{ event: 'supervisor.bind-failed', err: { message: /LISTEN_FDS must be/ } }])
})
