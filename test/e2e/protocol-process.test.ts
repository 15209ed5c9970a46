// The protocol with real processes: whatever a generation or the supervisor sends that has the
// wrong shape, or comes out of turn, is logged and dropped, never trusted (issue 10 items 9, 16).
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { fixture, killOnExit, tempDir } from '../helpers/app'
import { request } from '../helpers/http'
import { followLogs } from '../helpers/log-lines'
import { fdCount } from '../helpers/proc'
import { startSupervisor } from '../helpers/supervisor'

t.test('sockets a generation sends after ready, or malformed, are closed by the supervisor, not held: the next reload works', async t => {
  const s = await startSupervisor({ command: [process.execPath, fixture('node-generation.ts')], serving: false })
  t.teardown(() => s.kill())
  // a boot through the TypeScript loader on a loaded machine: generous room
  await s.waitFor(l => l.event === 'supervisor.serving', 'the supervisor to serve', 0, 90_000)
  const listening = await s.waitFor(l => l.msg === 'listening', 'generation 1 to listen')
  const port = listening.port as number
  const fds = fdCount(s.proc.pid!)

  const strayed = s.lines.length
  t.same((await request(port, '/stray')).body, { sent: 3 })

  const from = s.lines.length
  process.kill(s.proc.pid!, 'SIGHUP')
  const outcome = await s.waitFor(l => l.event === 'supervisor.reload.ready' || l.event === 'supervisor.reload.failed', 'the reload', from, 60_000)
  t.equal(outcome.event, 'supervisor.reload.ready', `the reload succeeds (${String(outcome.msg)})`)
  const body = (await request(port, '/')).body as { pid: number, generation: number }
  t.equal(body.generation, 2, 'generation 2 serves the same port')

  await s.waitFor(l => l.event === 'protocol.rejected' && /"socket": the entry is not an object/.test(String(l.why)), 'the malformed socket to be refused', strayed)
  await s.waitFor(l => l.event === 'supervisor.rejected' && s.lines.slice(strayed).filter(m => m.event === 'supervisor.rejected').length === 2, 'both sockets after ready to be refused', strayed)
  t.match(s.lines.slice(strayed).filter(l => l.event === 'supervisor.rejected'), [{ afterReady: true, withHandle: true }, { afterReady: true, withHandle: false }], 'with a handle (closed) and without')
  await s.waitFor(l => l.pid === body.pid && l.event === 'predecessor.exited', 'generation 1 to exit', from, 60_000)
  t.equal(fdCount(s.proc.pid!), fds, 'the supervisor holds as many fds as before')
  process.kill(s.proc.pid!, 'SIGTERM')
  t.equal(await s.ended, 0)
})

t.test('a generation drops what a supervisor sends with the wrong shape (an answer without id, a drain without fields) and serves on', async t => {
  // the test process plays the supervisor: it is the generation's parent, with an IPC channel
  const child = spawn(process.execPath, [fixture('node-generation.ts')], {
    env: { ...process.env, FASTIFY_HOT_RESTART_SUPERVISOR: String(process.pid) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc']
  })
  killOnExit(child)
  t.teardown(() => { child.kill('SIGKILL') })
  const logs = followLogs([child.stdout!, child.stderr!])
  const exit = once(child, 'exit')
  const received: Array<{ hotRestart?: string }> = []
  child.on('message', (m: { hotRestart?: string }) => received.push(m))
  const listening = await logs.waitFor(l => l.msg === 'listening', 'the generation to listen', 0, 60_000)
  await logs.waitFor(l => l.event === 'ready', 'the generation to be ready', 0, 60_000)

  for (const message of [{ hotRestart: 'upgraded' }, { hotRestart: 'upgraded', id: 9, result: { pid: 1, generation: 2, readyMs: 1 } }, { hotRestart: 'drain' }, { hotRestart: 'predecessor', pid: 'x' }, { hotRestart: 'nonsense' }]) {
    child.send(message)
  }
  for (let n = 1; n <= 5; n++) await logs.waitFor(() => logs.lines.filter(l => l.event === 'protocol.rejected').length >= n, `rejection ${n}`)
  t.match(logs.lines.filter(l => l.event === 'protocol.rejected').map(l => l.why), [/"upgraded": "id"/, /no upgrade 9 was asked for/, /"drain": needs/, /"predecessor": "pid"/, /"nonsense": unknown type/])
  t.same((await request(listening.port as number, '/')).body, { pid: child.pid, generation: 1 }, 'it serves on')
  t.ok(received.some(m => m.hotRestart === 'socket') && received.some(m => m.hotRestart === 'ready'), 'it handed its socket, then said ready')

  child.send({ hotRestart: 'shutdown' })
  const [code] = await exit
  t.equal(code, 0, 'a well-formed shutdown order is obeyed')
})

t.test('a manifest whose tcp fd is a unix socket fails the boot with BAD_MANIFEST', async t => {
  const server = net.createServer()
  // a short path (a unix socket path has at most 107 bytes)
  const dir = tempDir('fhr-')
  const path = join(dir, 's.sock')
  await once(server.listen(path), 'listening')
  t.teardown(() => server.close())
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd
  const entry = { fd: 3, kind: 'tcp', requested: { host: '127.0.0.1', port: 0 }, address: '127.0.0.1', port: 1234 }
  const manifest = { version: 1, pid: process.pid, generation: 2, cwd: process.cwd(), sockets: [entry] }
  const child = spawn(process.execPath, [fixture('app.ts')], {
    env: { ...process.env, FASTIFY_HOT_RESTART: JSON.stringify(manifest), PORT: '1234', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe', fd, 'ipc']
  })
  killOnExit(child)
  t.teardown(() => { child.kill('SIGKILL') })
  let reported: string | undefined
  child.on('message', (m: { hotRestart?: string, message?: string }) => { if (m.hotRestart === 'error') reported ??= m.message })
  let output = ''
  child.stdout!.on('data', d => { output += d })
  child.stderr!.on('data', d => { output += d })
  // 'close', not 'exit': the output may still be on its way when the process has exited
  const [code] = await once(child, 'close')
  t.not(code, 0, 'the boot fails')
  t.match(reported, /FST_HOT_RESTART_BAD_MANIFEST.*fd 3 is bound to/, 'the predecessor is told why, with the code')
  t.notMatch(output, /TypeError/)
})
