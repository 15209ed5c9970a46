// A unix socket is bound under a temporary name beside its path, then renamed onto it. The
// name must not be one another user can plant in advance (issue 10 item 15): a planted
// `<path>.<pid>.sock` made the bind fail EADDRINUSE, and the planted file (a symlink to
// anything) was then renamed onto the served path.
import { lstatSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import net from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { bindListen } from '../../lib/listen'
import { Sockets } from '../../lib/sockets'
import { bindUnixPath } from '../../lib/unix-path'
import { tempDir } from '../helpers/app'

/** A folder with a victim file and a symlink to it planted at the old predictable temporary name. */
function planted (): { dir: string, path: string, victim: string, trap: string } {
  const dir = tempDir('fhr-unix-path-')
  const path = join(dir, 'app.sock')
  const victim = join(dir, 'victim')
  writeFileSync(victim, 'precious\n')
  const trap = `${path}.${process.pid}.sock`
  symlinkSync(victim, trap)
  return { dir, path, victim, trap }
}

t.test('listen(path) binds although its old temporary name is planted, and never moves the planted file', async t => {
  const sockets = new Sockets()
  t.teardown(sockets.install())
  const { dir, path, victim, trap } = planted()
  const server = net.createServer()
  t.teardown(() => server.close())
  server.listen(path)
  const [event] = await Promise.race([once(server, 'listening').then(() => ['listening']), once(server, 'error').then(([err]) => [err.code])])
  t.equal(event, 'listening', 'the server listens')
  t.ok(lstatSync(path).isSocket(), 'the path is our socket')
  t.ok(lstatSync(trap).isSymbolicLink(), 'the planted link is where it was')
  t.equal(readFileSync(victim, 'utf8'), 'precious\n')
  t.same(readdirSync(dir).sort(), ['app.sock', 'app.sock.' + process.pid + '.sock', 'victim'], 'no temporary name is left')
})

t.test('run --listen <path> binds although its old temporary name is planted', async t => {
  const { dir, path, victim, trap } = planted()
  const held = bindListen({ host: '', port: 0, path })
  t.teardown(() => held.handle.close())
  t.ok(lstatSync(path).isSocket(), 'the path is our socket')
  t.ok(lstatSync(trap).isSymbolicLink(), 'the planted link is where it was')
  t.equal(readFileSync(victim, 'utf8'), 'precious\n')
  t.equal(readdirSync(dir).length, 3, 'no temporary name is left')
})

t.test('bindUnixPath renames only a socket of our own user', async t => {
  const dir = tempDir('fhr-unix-path-')
  const path = join(dir, 'x.sock')
  // a bind that leaves something else at the temporary name (a file planted in between)
  const result = bindUnixPath(path, temp => { writeFileSync(temp, ''); return 'bound' })
  t.equal(result, 'bound')
  t.throws(() => lstatSync(path), { code: 'ENOENT' }, 'nothing was renamed onto the path')
  // a bind that failed: nothing at the temporary name, nothing renamed
  bindUnixPath(path, () => undefined)
  t.throws(() => lstatSync(path), { code: 'ENOENT' })
  t.equal(readdirSync(dir).length, 1)
})
