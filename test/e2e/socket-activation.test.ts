// systemd socket activation with the real program: systemd-socket-activate (Debian's systemd
// package) binds the socket, waits for the first connection and then execs a shell that plays
// systemd's part: it holds the socket (fd 3) and starts the service on it, once or twice in a row
// (a stop and a start), each time with LISTEN_PID set to the service's own pid, as systemd does.
// A client makes a request on a new connection every few ms throughout: the ones made while the
// service is down (before it starts, between a stop and the next start) wait in the kernel's
// queue and are answered; none is refused; reloads work as usual on the activated socket.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import t from 'tap'
import { fixture, killOnExit } from '../helpers/app'
import { followLogs, on, type LogLine } from '../helpers/log-lines'
import { cli } from '../helpers/supervisor'

interface Outcome { startedAt: number, endedAt?: number, status?: number, error?: string }

function get (port: number): Promise<Outcome> {
  const outcome: Outcome = { startedAt: Date.now() }
  return new Promise(resolve => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, res => {
      res.resume()
      res.on('end', () => { outcome.status = res.statusCode; outcome.endedAt = Date.now(); resolve(outcome) })
    })
    // a boot under load takes seconds; the request waits meanwhile
    req.setTimeout(60_000, () => req.destroy(new Error('timed out')))
    req.on('error', err => { outcome.error = (err as NodeJS.ErrnoException).code ?? err.message; resolve(outcome) })
  })
}

async function freePort (): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

/** systemd-socket-activate on a free port, running `command` `runs` times on the socket it holds. */
async function activate (command: string[], runs: number): Promise<{ port: number, lines: LogLine[], waitFor: ReturnType<typeof followLogs>['waitFor'], exited: Promise<unknown>, kill: () => void }> {
  const port = await freePort()
  const loop = `for i in ${Array.from({ length: runs }, (_, i) => i + 1).join(' ')}; do sh -c 'LISTEN_PID=$$ exec "$@"' service "$@"; done`
  const env = { ...process.env, PORT: String(port), HOST: '127.0.0.1', QUIET: '1' }
  // it starts the service with an empty environment, but for the variables named with -E (all
  // of ours: the app's, PATH, and tap's coverage of the processes it starts)
  const passed = Object.keys(env).flatMap(name => ['-E', name])
  const proc = spawn('systemd-socket-activate', ['-l', `127.0.0.1:${port}`, '--fdname=web', ...passed, 'sh', '-c', loop, 'systemd', ...command], {
    env,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = once(proc, 'exit')
  let listening!: () => void
  const bound = new Promise<void>(resolve => { listening = resolve })
  const { lines, waitFor } = followLogs([proc.stdout!, proc.stderr!], text => { if (text.startsWith('Listening on ')) listening() })
  const kill = (): void => {
    for (const pid of new Set([proc.pid, ...lines.map(l => l.pid), ...lines.map(l => l.generationPid), ...lines.map(l => l.successorPid)])) {
      if (typeof pid === 'number') try { process.kill(pid, 'SIGKILL') } catch {}
    }
  }
  killOnExit(kill)
  await bound
  return { port, lines, waitFor, exited, kill }
}

/** Requests one after the other until `stop()`; at most 20,000. */
function poll (port: number): { outcomes: Outcome[], stop: () => Promise<void> } {
  const outcomes: Outcome[] = []
  let stopped = false
  const loop = (async () => {
    for (let i = 0; i < 20_000 && !stopped; i++) {
      outcomes.push(await get(port))
      await new Promise(resolve => setTimeout(resolve, 5))
    }
  })()
  return { outcomes, stop: async () => { stopped = true; await loop } }
}

t.test('run: connections wait while the service is down (before it starts, across a stop and a start) and are answered; reloads as usual', async t => {
  const s = await activate([process.execPath, cli, 'run', '--', process.execPath, fixture('app.ts')], 2)
  t.teardown(() => s.kill())
  // the service is down: the first connection makes systemd-socket-activate start it
  const client = poll(s.port)
  const first = await s.waitFor(on('supervisor.serving'), 'the first supervisor to serve', 0, 60_000)
  const activated = await s.waitFor(on('supervisor.activated'), 'the activated socket')
  t.match(activated, { pid: first.pid, fd: 3, name: 'web', address: `127.0.0.1:${s.port}` }, 'the supervisor took systemd\'s socket')
  t.notOk(s.lines.some(l => l.event === 'supervisor.bound'), 'and bound nothing itself')
  let from = s.lines.length
  process.kill(first.pid, 'SIGHUP')
  await s.waitFor(l => l.event === 'supervisor.reload.ready' && l.pid === first.pid, 'a reload', from, 60_000)
  // a stop and a start: systemd (the shell) holds the socket meanwhile. The stop comes right
  // after the reload is ready, while the old worker may still hand its connections over to the
  // new one, which then drains them (a connection that reached it once its drain had closed the
  // listening socket was closed, its request unread: 1 reset in about 6 runs before the fix)
  from = s.lines.length
  process.kill(first.pid, 'SIGTERM')
  const stopped = await s.waitFor(l => l.event === 'supervisor.stopped' && l.pid === first.pid, 'the first supervisor to stop', from, 60_000)
  const second = await s.waitFor(l => l.event === 'supervisor.serving' && l.pid !== first.pid, 'the second supervisor to serve', from, 60_000)
  from = s.lines.length
  process.kill(second.pid, 'SIGHUP')
  await s.waitFor(l => l.event === 'supervisor.reload.ready' && l.pid === second.pid, 'a reload of the second', from, 60_000)
  const servedAfter = client.outcomes.length
  // bounded: at most 60 s
  for (let i = 0; i < 6000 && client.outcomes.length < servedAfter + 5; i++) await new Promise(resolve => setTimeout(resolve, 10))
  await client.stop()
  process.kill(second.pid, 'SIGTERM')
  await s.exited

  const failed = client.outcomes.filter(o => o.status !== 200)
  // for a failure: what every process logged around it
  for (const { startedAt } of failed.slice(0, 3)) {
    t.comment(s.lines.filter(l => typeof l.event === 'string' && Math.abs((l.time as number) - startedAt) < 3000)
      .map(l => `${(l.time as number) - startedAt} ms: pid ${l.pid} ${String(l.event)}`).join('\n'))
  }
  t.same(failed, [], `0 refused or failed of ${client.outcomes.length} requests, each on a new connection`)
  t.equal(client.outcomes[0]?.status, 200, 'the request that started the service was answered')
  // from the first supervisor's exit to the second one's serving, nothing accepts
  const down = client.outcomes.filter(o => o.startedAt <= (second.time as number) && (o.endedAt ?? Infinity) >= (stopped.time as number))
  const longest = Math.max(...down.map(o => (o.endedAt as number) - o.startedAt))
  t.ok(down.length > 0 && down.every(o => o.status === 200),
    `requests made while no supervisor ran waited and were answered: ${down.length} (down ${(second.time as number) - (stopped.time as number)} ms, longest wait ${longest} ms)`)
})

t.test('standalone generation 1 serves systemd\'s socket, its successor too; the variables are gone', async t => {
  const s = await activate([process.execPath, fixture('app.ts')], 1)
  t.teardown(() => s.kill())
  const client = poll(s.port)
  const ready = await s.waitFor(l => l.event === 'ready', 'generation 1', 0, 60_000)
  const activated = await s.waitFor(on('sockets.activated', { pid: ready.pid }), 'the activated socket')
  t.match(activated, { fd: 3, name: 'web', address: `127.0.0.1:${s.port}` })
  const from = s.lines.length
  process.kill(ready.pid, 'SIGUSR2')
  const handed = await s.waitFor(l => l.event === 'upgrade.ready' && l.pid === ready.pid, 'the reload', from, 60_000)
  await s.waitFor(l => l.event === 'exit' && l.pid === ready.pid, 'generation 1 to exit', from, 60_000)
  const servedAfter = client.outcomes.length
  for (let i = 0; i < 6000 && client.outcomes.length < servedAfter + 5; i++) await new Promise(resolve => setTimeout(resolve, 10))
  await client.stop()
  t.notOk(s.lines.some(l => l.event === 'sockets.activated' && l.pid === handed.successorPid), 'the successor inherited the socket (no LISTEN_FDS left for it)')
  process.kill(handed.successorPid as number, 'SIGTERM')
  await s.exited
  t.same(client.outcomes.filter(o => o.status !== 200), [], `0 failed of ${client.outcomes.length} requests`)
})
