// Failures around an upgrade: a shutdown while the successor boots, a request longer than
// drainTimeout, a predecessor killed while it drains, a reload asked of a successor whose
// predecessor still drains, and manifests that cannot be trusted.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { fixture, predecessorGone, reload, startApp } from './helpers/app'
import { request } from './helpers/http'

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

t.test('SIGTERM to the predecessor while its successor boots: the successor is stopped, the predecessor shuts down', async t => {
  const bootFile = join(mkdtempSync(join(tmpdir(), 'fhr-')), 'boot')
  writeFileSync(bootFile, 'hang')
  const app = await startApp({ BOOT_FILE: bootFile })
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  process.kill(pid, 'SIGUSR2')
  const started = await app.waitFor(l => l.msg === 'hot-restart: upgrade started', 'the upgrade to start')
  const successorPid = started.successorPid as number
  // the successor has registered the plugin (so it handles SIGTERM) once it says it hangs
  await app.waitFor(l => l.pid === successorPid && l.msg === 'boot: hanging', 'the successor to hang')
  const exit = once(app.proc, 'exit')
  process.kill(pid, 'SIGTERM')
  const [code] = await exit
  t.equal(code, 0, 'the predecessor exits 0')
  t.ok(app.lines.some(l => l.pid === pid && l.msg === 'hot-restart: stopping the successor that is booting'))
  await app.ended
  t.notOk(alive(successorPid), 'no orphan: the successor is gone')
  t.equal(readFileSync(app.atExitFile, 'utf8'), `${pid}\n`, 'the predecessor ran its atExit hooks')
})

t.test('a request longer than drainTimeout is cut at the deadline; the exit still happens', async t => {
  const app = await startApp({ DRAIN_TIMEOUT: '1000' })
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const slow = request(app.port, '/slow?ms=30000').then(() => 'answered', (err: NodeJS.ErrnoException) => err.code)
  await app.waitFor(l => l.pid === pid && (l.req as { url?: string } | undefined)?.url === '/slow?ms=30000', 'the slow request to arrive')
  const exit = once(app.proc, 'exit')
  const { successorPid } = await reload(app, pid)
  t.equal(await slow, 'ECONNRESET', 'the client of the cut request sees its connection closed')
  const [code] = await exit
  t.equal(code, 0)
  const forced = await app.waitFor(l => l.pid === pid && l.msg === 'hot-restart: drainTimeout reached; closed the remaining connections', 'the forced-close log')
  t.equal(forced.forced, 1)
  t.equal(forced.forcedRequests, 1)
  t.equal(readFileSync(app.atExitFile, 'utf8'), `${pid}\n`, 'atExit hooks ran after the forced drain')
  await predecessorGone(app, successorPid)
  await app.stop(successorPid)
})

t.test('a reload asked of a successor whose predecessor still drains is refused, then accepted', async t => {
  const app = await startApp()
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  // keeps the predecessor draining for 3 s
  const hold = request(app.port, '/hold?ms=3000')
  await app.waitFor(l => l.pid === pid && (l.req as { url?: string } | undefined)?.url === '/hold?ms=3000', 'the held request to arrive')
  const { successorPid } = await reload(app, pid)
  const refused = await request(app.port, '/upgrade', { method: 'POST' })
  t.equal(refused.status, 500)
  t.equal(refused.body.code, 'FST_HOT_RESTART_PREDECESSOR_DRAINING')
  t.match(refused.body.message, String(pid))
  // the reload signal takes the same path, and says why in the log
  const from = app.lines.length
  process.kill(successorPid, 'SIGUSR2')
  const logged = await app.waitFor(l => app.lines.indexOf(l) >= from && l.pid === successorPid && String(l.msg).startsWith('hot-restart: upgrade refused'), 'the signal to be refused')
  t.equal(logged.code, 'FST_HOT_RESTART_PREDECESSOR_DRAINING', 'a signal is refused with the same reason')
  t.equal((await hold).status, 200)
  await predecessorGone(app, successorPid)
  const accepted = await request(app.port, '/upgrade', { method: 'POST' })
  t.equal(accepted.status, 200)
  t.equal(accepted.body.generation, 3)
  await predecessorGone(app, accepted.body.pid as number)
  await app.stop(accepted.body.pid as number)
})

t.test('SIGKILL of the predecessor while it drains: the successor serves on and learns it', async t => {
  const app = await startApp()
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const hold = request(app.port, '/hold?ms=60000').catch((err: NodeJS.ErrnoException) => err.code)
  await app.waitFor(l => l.pid === pid && (l.req as { url?: string } | undefined)?.url === '/hold?ms=60000', 'the held request to arrive')
  const { successorPid } = await reload(app, pid)
  process.kill(pid, 'SIGKILL')
  t.equal(await hold, 'ECONNRESET', 'the request the killed process held is lost (measured: documented in the README)')
  await predecessorGone(app, successorPid)
  const res = await request(app.port, '/')
  t.same(res.body, { pid: successorPid, generation: 2 }, 'the successor serves')
  await app.stop(successorPid)
})

/**
 * Runs the fixture as if it were a successor of this test process, with `manifest` and an IPC
 * channel; resolves with its exit code, its output and the first error it reported over the
 * channel (what a predecessor would show).
 */
async function bootWith (t: Test, manifest: unknown, fd3: number | 'ignore' = 'ignore'): Promise<{ code: number | null, output: string, reported?: string }> {
  const child = spawn(process.execPath, [...process.execArgv, fixture('app.ts')], {
    env: { ...process.env, FASTIFY_HOT_RESTART: typeof manifest === 'string' ? manifest : JSON.stringify(manifest) },
    stdio: ['ignore', 'pipe', 'pipe', fd3, 'ipc']
  })
  let output = ''
  let reported: string | undefined
  child.on('message', (m: { hotRestart?: string, message?: string }) => {
    if (m.hotRestart === 'error') reported ??= m.message
  })
  child.stdout!.on('data', d => {
    output += d
    // a process that boots fine is stopped once it is ready
    if (String(d).includes('hot-restart: ready')) child.kill('SIGTERM')
  })
  child.stderr!.on('data', d => { output += d })
  t.teardown(() => { child.kill('SIGKILL') })
  const [code] = await once(child, 'exit')
  return { code, output, reported }
}

t.test('manifests that cannot be trusted', async t => {
  const base = { version: 1, pid: process.pid, generation: 2, cwd: process.cwd() }
  const server = net.createServer()
  await once(server.listen(0, '127.0.0.1'), 'listening')
  t.teardown(() => server.close())
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd
  const { port } = server.address() as net.AddressInfo
  const entry = { fd: 3, kind: 'tcp', requested: { host: '127.0.0.1', port: 0 }, address: '127.0.0.1', port }
  const file = openSync(join(mkdtempSync(join(tmpdir(), 'fhr-')), 'file'), 'w')
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

/** Opens an SSE stream; resolves with what it received once the server ends it. */
function stream (port: number): { first: Promise<string>, done: Promise<{ events: string, error?: string }> } {
  let first!: (chunk: string) => void
  const firstChunk = new Promise<string>(resolve => { first = resolve })
  const done = new Promise<{ events: string, error?: string }>(resolve => {
    http.get({ host: '127.0.0.1', port, path: '/events', agent: false }, res => {
      let events = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { if (events === '') first(c); events += c })
      res.on('end', () => resolve({ events }))
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ events, error: err.code }))
    }).on('error', (err: NodeJS.ErrnoException) => resolve({ events: '', error: err.code }))
  })
  return { first: firstChunk, done }
}

t.test('long-lived connections: an onDrain hook ends an SSE stream cleanly, the client reconnects to the successor', async t => {
  const app = await startApp({ DRAIN_TIMEOUT: '20000' })
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const sse = stream(app.port)
  await sse.first
  const { successorPid } = await reload(app, pid)
  const { events, error } = await sse.done
  t.equal(error, undefined, 'the stream ended cleanly')
  t.match(events, /event: reconnect\ndata: draining\n\n$/, 'its last event tells the client to reconnect')
  const handedOver = await app.waitFor(l => l.pid === pid && l.msg === 'hot-restart: handed over; exiting', 'the hand-over')
  t.equal((handedOver.hotRestart as { forced: number }).forced, 0, 'nothing was forced')
  t.ok((handedOver.hotRestart as { readyToDrainedMs: number }).readyToDrainedMs < 5000, 'the drain did not wait for drainTimeout')
  const again = stream(app.port)
  t.equal((await again.first).trim(), `data: ${successorPid}`, 'the reconnected stream comes from the successor')
  await predecessorGone(app, successorPid)
  await app.stop(successorPid)
  await again.done
})

t.test('long-lived connections without an onDrain hook end at drainTimeout', async t => {
  const app = await startApp({ DRAIN_TIMEOUT: '1500', SSE_DRAIN_HOOK: '0' })
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const sse = stream(app.port)
  await sse.first
  const { successorPid } = await reload(app, pid)
  const { events, error } = await sse.done
  t.ok(error !== undefined || !events.includes('reconnect'), 'the stream was cut, not ended by the app')
  const forced = await app.waitFor(l => l.pid === pid && l.msg === 'hot-restart: drainTimeout reached; closed the remaining connections', 'the forced close')
  t.equal(forced.forced, 1)
  await predecessorGone(app, successorPid)
  await app.stop(successorPid)
})

t.test('a successor that listens elsewhere binds fresh; the old socket is closed once it is ready', async t => {
  const bindFile = join(mkdtempSync(join(tmpdir(), 'fhr-')), 'bind')
  const app = await startApp({ BIND_FILE: bindFile })
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  writeFileSync(bindFile, '::1 0')
  const { successorPid } = await reload(app, pid)
  const fresh = await app.waitFor(l => l.pid === successorPid && l.msg === 'hot-restart: no inherited socket matches; bound a new one', 'the fresh bind')
  t.match(fresh.address, { address: '::1', family: 'IPv6' })
  const closed = await app.waitFor(l => l.pid === successorPid && l.msg === 'hot-restart: closed inherited sockets that no listen() claimed', 'the unclaimed socket to close')
  t.same(closed.fds, [3])
  await predecessorGone(app, successorPid)
  const refused = await request(app.port, '/').then(() => 'served', (err: NodeJS.ErrnoException) => err.code)
  t.equal(refused, 'ECONNREFUSED', 'the old address is closed once nobody serves it')
  const port = (fresh.address as { port: number }).port
  const res = await new Promise<number>((resolve, reject) => {
    http.get({ host: '::1', port, path: '/' }, r => { r.resume(); resolve(r.statusCode!) }).on('error', reject)
  })
  t.equal(res, 200, 'the new address serves')
  await app.stop(successorPid)
})

t.test('a unix socket in the manifest is served by a listen on its path', async t => {
  const path = join(mkdtempSync(join(tmpdir(), 'fhr-')), 'app.sock')
  const server = net.createServer()
  await once(server.listen(path), 'listening')
  t.teardown(() => server.close())
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd
  const child = spawn(process.execPath, [...process.execArgv, fixture('app.ts')], {
    env: {
      ...process.env,
      LISTEN_PATH: path,
      FASTIFY_HOT_RESTART: JSON.stringify({ version: 1, pid: process.pid, generation: 2, cwd: process.cwd(), sockets: [{ fd: 3, kind: 'unix', requested: { host: '', port: 0, path }, path }] })
    },
    stdio: ['ignore', 'pipe', 'inherit', fd]
  })
  t.teardown(() => { child.kill('SIGKILL') })
  let output = ''
  await new Promise<void>(resolve => child.stdout!.on('data', d => { output += d; if (output.includes('hot-restart: ready')) resolve() }))
  t.match(output, 'serving an inherited socket')
  t.match(output, `Server listening at ${path}`, 'server.address() reports the path')
  const body = await new Promise<string>((resolve, reject) => {
    http.get({ socketPath: path, path: '/' }, r => { let b = ''; r.on('data', c => { b += c }); r.on('end', () => resolve(b)) }).on('error', reject)
  })
  t.match(JSON.parse(body), { generation: 2 })
  child.kill('SIGTERM')
  t.equal((await once(child, 'exit'))[0], 0)
})

t.test('an uncaught error shuts the process down gracefully, exit 1', async t => {
  const app = await startApp()
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const exit = once(app.proc, 'exit')
  await request(app.port, '/crash')
  t.equal((await exit)[0], 1)
  const line = await app.waitFor(l => l.pid === pid && l.msg === 'hot-restart: shutting down after an uncaught error', 'the error log')
  t.match(line.err, { message: 'crash outside a request' })
  t.equal(readFileSync(app.atExitFile, 'utf8'), `${pid}\n`, 'atExit hooks ran')
})

t.test('a second SIGTERM while shutting down forces the exit', async t => {
  const app = await startApp()
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const held = request(app.port, '/hold?ms=60000').catch((err: NodeJS.ErrnoException) => err.code)
  await app.waitFor(l => l.pid === pid && (l.req as { url?: string } | undefined)?.url === '/hold?ms=60000', 'the held request to arrive')
  const exit = once(app.proc, 'exit')
  process.kill(pid, 'SIGTERM')
  await app.waitFor(l => l.pid === pid && l.msg === 'hot-restart: shutting down', 'the shutdown to start')
  process.kill(pid, 'SIGTERM')
  t.equal((await exit)[0], 1, 'exit 1, at once')
  await held
  const line = await app.waitFor(l => l.pid === pid && l.msg === 'hot-restart: close-with-grace', 'close-with-grace to say why')
  t.equal(line.err, 'second SIGTERM, exiting')
})

t.test('a burst of 50 reload signals: exactly one upgrade, the rest refused and logged, one process serves', async t => {
  const app = await startApp()
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const started = Date.now()
  for (let i = 0; i < 50; i++) {
    process.kill(pid, 'SIGUSR2')
    // let the process take each signal (signals of one kind do not queue)
    await new Promise(resolve => setTimeout(resolve, 2))
  }
  t.ok(Date.now() - started < 1000, 'the signals were sent in a burst')
  const ready = await app.waitFor(l => l.pid === pid && l.msg === 'hot-restart: the successor is ready; draining', 'the upgrade')
  const successorPid = ready.successorPid as number
  await predecessorGone(app, successorPid)
  const startedUpgrades = app.lines.filter(l => l.msg === 'hot-restart: upgrade started')
  const refused = app.lines.filter(l => String(l.msg).startsWith('hot-restart: upgrade refused'))
  t.equal(startedUpgrades.length, 1, 'exactly one upgrade ran')
  t.ok(refused.length >= 1, `the others were refused (${refused.length} reached the process)`)
  t.ok(refused.every(l => l.code === 'FST_HOT_RESTART_UPGRADE_IN_PROGRESS' && l.pid === pid), 'each refusal logged once with its reason')
  const res = await request(app.port, '/')
  t.equal(res.body.pid, successorPid, 'exactly one process serves')
  t.notOk(alive(pid))
  await app.stop(successorPid)
})
