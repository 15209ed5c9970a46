// Sockets opened by name across reloads, with real processes: a TCP echo server under load of
// clients on kept and on new connections, and a UDP socket under a steady sender; every
// exchange and every datagram is accounted for.
import { spawn } from 'node:child_process'
import dgram from 'node:dgram'
import { once } from 'node:events'
import type net from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { fixture, type LogLine, predecessorGone, reload, type RunningApp, startApp, tempDir } from '../helpers/app'
import { startSender } from '../helpers/datagrams'
import { startEchoLoad } from '../helpers/echo'
import { datagramFd } from '../../lib/sockets'

const RELOADS = 2

function ports (line: LogLine): { udp: number, echo: number, plain: number } {
  return { udp: (line.udp as net.AddressInfo).port, echo: (line.echo as net.AddressInfo).port, plain: (line.plain as net.AddressInfo).port }
}

function opened (app: RunningApp, pid: number): Promise<LogLine> {
  return app.waitFor(l => l.pid === pid && l.msg === 'sockets open', `pid ${pid} to open its sockets`)
}

t.test(`TCP echo servers (by name, and plain) and a UDP socket by name: ${RELOADS} reloads under load, 0 failed exchanges, 0 datagrams lost`, async t => {
  const udpFile = join(tempDir('fhr-udp-'), 'received.jsonl')
  const app = await startApp({ QUIET: '1', UDP_FILE: udpFile }, fixture('sockets-app.ts'))
  t.teardown(() => app.kill())
  let pid = app.proc.pid!
  const first = ports(await opened(app, pid))

  // a steady sender: 2 numbered datagrams every millisecond
  const sender = startSender(first.udp, 2)
  const echo = startEchoLoad(first.echo, { persistent: 10, fresh: 2 })
  const plain = startEchoLoad(first.plain, { persistent: 5, fresh: 1 })
  // whatever happens, nothing keeps this process alive
  t.teardown(async () => {
    sender.close()
    await Promise.all([echo.stop(), plain.stop()])
  })

  const pids = [pid]
  for (let i = 0; i < RELOADS; i++) {
    const { successorPid } = await reload(app, pid)
    t.same(ports(await opened(app, successorPid)), first, `generation ${i + 2} serves the same UDP and TCP ports`)
    await predecessorGone(app, successorPid)
    pid = successorPid
    pids.push(pid)
  }
  const [outcome, plainOutcome] = await Promise.all([echo.stop(), plain.stop()])
  // datagrams arrive in order on one socket: once the fence is in, every number before it is
  sender.fence()
  await app.waitFor(l => l.pid === pid && l.msg === 'udp: fence', 'the fence datagram')
  await app.stop(pid)

  t.comment(`echo (TCP, by name): reloads ${RELOADS}, exchanges ${outcome.ok + outcome.failed}, failed ${outcome.failed} ${JSON.stringify(outcome.failures)}`)
  t.comment(`echo (TCP, plain listen): reloads ${RELOADS}, exchanges ${plainOutcome.ok + plainOutcome.failed}, failed ${plainOutcome.failed} ${JSON.stringify(plainOutcome.failures)}`)
  t.equal(outcome.failed, 0, 'no echo exchange failed on the named server')
  t.equal(plainOutcome.failed, 0, 'nor on the plain one')
  for (const p of pids) t.ok((outcome.byPid[p] ?? 0) > 0 && (plainOutcome.byPid[p] ?? 0) > 0, `pid ${p} answered echo lines on both`)
  sender.check(t, `udp: reloads ${RELOADS}`, udpFile, pids, 1000)
})

t.test('a successor handed a UDP socket bound elsewhere than its manifest says fails to boot with BAD_MANIFEST', async t => {
  const udp = dgram.createSocket('udp4')
  await once(udp.bind(0, '127.0.0.1'), 'listening')
  t.teardown(() => udp.close())
  const { port } = udp.address()
  const manifest = {
    version: 1,
    pid: process.pid,
    generation: 2,
    cwd: process.cwd(),
    sockets: [{ fd: 3, kind: 'udp', name: 'statsd', requested: { host: '127.0.0.1', port: 0 }, address: '127.0.0.1', port: port === 65535 ? 1 : port + 1 }]
  }
  // run the fixture as if it were a successor of this process
  const child = spawn(process.execPath, [fixture('sockets-app.ts')], {
    env: { ...process.env, FASTIFY_HOT_RESTART: JSON.stringify(manifest) },
    stdio: ['ignore', 'pipe', 'pipe', datagramFd(udp)!]
  })
  t.teardown(() => { child.kill('SIGKILL') })
  let output = ''
  child.stdout!.on('data', d => { output += d })
  child.stderr!.on('data', d => { output += d })
  // 'close', not 'exit': the output may still be on its way when the process has exited
  const [code] = await once(child, 'close')
  t.not(code, 0, 'the boot failed')
  t.match(output, /FST_HOT_RESTART_BAD_MANIFEST/)
  t.match(output, new RegExp(`fd 3 is bound to .*${port}.*, not to 127\\.0\\.0\\.1:${manifest.sockets[0]!.port} as the manifest says`))
  t.notMatch(output, /hot-restart: ready/)
})
