// A successor's boot with the manifest a predecessor hands it, the test process playing the
// predecessor: manifests that cannot be trusted fail the boot with a coded error that names the
// fd (and the predecessor is told); a foreign one is ignored; good ones are served (tcp, unix).
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { openSync, renameSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { fixture, killOnExit, tempDir } from '../helpers/app'

/**
 * Runs the fixture as if it were a successor of this test process, with `manifest` and an IPC
 * channel; resolves with its exit code, its output and the first error it reported over the
 * channel (what a predecessor would show).
 */
async function bootWith (t: Test, manifest: unknown, fd3: number | 'ignore' = 'ignore'): Promise<{ code: number | null, output: string, reported?: string }> {
  const child = spawn(process.execPath, [fixture('app.ts')], {
    env: { ...process.env, FASTIFY_HOT_RESTART: typeof manifest === 'string' ? manifest : JSON.stringify(manifest) },
    stdio: ['ignore', 'pipe', 'pipe', fd3, 'ipc']
  })
  killOnExit(child)
  let output = ''
  let reported: string | undefined
  child.on('message', (m: { hotRestart?: string, message?: string }) => {
    if (m.hotRestart === 'error') reported ??= m.message
  })
  child.stdout!.on('data', d => {
    output += d
    // a process that boots fine is stopped once it is ready, its predecessor gone first (the
    // channel closed, as when a predecessor exits): else its drain would wait, until
    // drainTimeout, for connections that this predecessor could still hand it
    if (String(d).includes('hot-restart: ready')) {
      if (child.connected) child.disconnect()
      child.kill('SIGTERM')
    }
  })
  child.stderr!.on('data', d => { output += d })
  t.teardown(() => { child.kill('SIGKILL') })
  // the exit and the end of both outputs (which may still be on their way when the process has
  // exited): not 'close', which Node does not emit once this side has disconnected the channel
  const [[code]] = await Promise.all([once(child, 'exit'), once(child.stdout!, 'end'), once(child.stderr!, 'end')])
  return { code, output, reported }
}

t.test('manifests that cannot be trusted', async t => {
  // each case is a boot of its own: four at a time
  t.jobs = 4
  const base = { version: 1, pid: process.pid, generation: 2, cwd: process.cwd() }
  const server = net.createServer()
  await once(server.listen(0, '127.0.0.1'), 'listening')
  t.teardown(() => server.close())
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd
  const { port } = server.address() as net.AddressInfo
  const entry = { fd: 3, kind: 'tcp', requested: { host: '127.0.0.1', port: 0 }, address: '127.0.0.1', port }
  const file = openSync(join(tempDir('fhr-'), 'file'), 'w')
  const otherPort = port === 1 ? 2 : port - 1

  // each fails the boot with the coded error, which the successor reports to its predecessor
  const cases: Array<[string, unknown, number | 'ignore', RegExp]> = [
    ['not JSON', 'not json', 'ignore', /FASTIFY_HOT_RESTART is not JSON/],
    ['wrong version', { ...base, version: 99, sockets: [] }, 'ignore', /unsupported manifest version 99/],
    ['missing sockets', base, 'ignore', /has no "sockets" array/],
    ['missing generation', { ...base, generation: undefined, sockets: [] }, 'ignore', /has no valid "generation"/],
    ['a socket without its address', { ...base, sockets: [{ ...entry, address: undefined }] }, fd, /fd 3: a tcp socket needs "address" and "port"/],
    ['an fd that is not open', { ...base, sockets: [{ ...entry, fd: 50 }] }, 'ignore', /fd 50 is not open \(EBADF\)/],
    ['an fd that is not a socket', { ...base, sockets: [entry] }, file, /fd 3 is not a socket/],
    ['a socket bound to another address than the manifest says', { ...base, sockets: [{ ...entry, port: otherPort }] }, fd,
      new RegExp(`fd 3 is bound to .*${port}.*not to 127.0.0.1:${otherPort} as the manifest says`)]
  ]
  for (const [name, manifest, fd3, why] of cases) {
    t.test(name, async t => {
      const { code, output, reported } = await bootWith(t, manifest, fd3)
      t.not(code, 0, 'the boot fails')
      t.match(output, /FST_HOT_RESTART_BAD_MANIFEST/, 'with the coded error')
      t.match(output, why, 'saying what was wrong')
      t.notMatch(output, /serving an inherited socket|hot-restart: ready/, 'it never served, never said ready')
      t.match(reported, /^FastifyError \[FST_HOT_RESTART_BAD_MANIFEST\]: /, 'the predecessor is told, with the code')
      t.match(reported, why)
    })
  }
  t.test('a foreign manifest (its pid is not the parent) is ignored with a warning; fresh sockets', async t => {
    const { code, output } = await bootWith(t, { ...base, pid: 1, sockets: [entry] }, fd)
    t.equal(code, 0)
    t.match(output, /ignoring a manifest/)
    t.notMatch(output, /serving an inherited socket/)
    t.notMatch(output, `Server listening at http://127.0.0.1:${port}`, 'not on the socket the manifest names')
    t.match(output, /hot-restart: ready/)
  })
  t.test('a good manifest: the inherited socket is served', async t => {
    const { code, output } = await bootWith(t, { ...base, sockets: [entry] }, fd)
    t.equal(code, 0)
    t.match(output, `"address":"127.0.0.1:${port}","msg":"hot-restart: serving an inherited socket"`)
    t.match(output, `Server listening at http://127.0.0.1:${port}`)
  })
})

t.test('a unix socket in the manifest is served by a listen on its path', async t => {
  const path = join(tempDir('fhr-'), 'app.sock')
  // bound under another name and renamed, so that closing it below does not unlink the path
  const server = net.createServer()
  await once(server.listen(`${path}.tmp`), 'listening')
  renameSync(`${path}.tmp`, path)
  t.teardown(() => server.close())
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd
  const child = spawn(process.execPath, [fixture('app.ts')], {
    env: {
      ...process.env,
      LISTEN_PATH: path,
      FASTIFY_HOT_RESTART: JSON.stringify({ version: 1, pid: process.pid, generation: 2, cwd: process.cwd(), sockets: [{ fd: 3, kind: 'unix', requested: { host: '', port: 0, path }, path }] })
    },
    stdio: ['ignore', 'pipe', 'inherit', fd]
  })
  killOnExit(child)
  t.teardown(() => { child.kill('SIGKILL') })
  let output = ''
  await new Promise<void>(resolve => child.stdout!.on('data', d => { output += d; if (output.includes('hot-restart: ready')) resolve() }))
  t.match(output, 'serving an inherited socket')
  t.match(output, `Server listening at ${path}`, 'server.address() reports the path')
  // this process accepts on the socket too, and would leave a request unanswered: stop it
  server.close()
  const body = await new Promise<string>((resolve, reject) => {
    // a connection of its own (no keep-alive pool): the stop below need not wait for it to idle out
    http.get({ socketPath: path, path: '/', agent: false }, r => { let b = ''; r.on('data', c => { b += c }); r.on('end', () => resolve(b)) }).on('error', reject)
  })
  t.match(JSON.parse(body), { generation: 2 })
  child.kill('SIGTERM')
  t.equal((await once(child, 'exit'))[0], 0)
})
