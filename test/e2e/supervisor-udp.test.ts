// A UDP socket opened by name, under the supervisor: the serving generation hands it to the
// supervisor, which hands it to the next one; a steady sender's datagrams reach every
// generation on the one port, and none is lost but to a receive buffer the kernel counts full.
import type net from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { fixture, tempDir } from '../helpers/app'
import { startSender } from '../helpers/datagrams'
import { predecessorGone, servingPid, startSupervisor, type Supervised } from '../helpers/supervisor'

async function udpPort (s: Supervised, pid: number): Promise<number> {
  const line = await s.waitFor(l => l.pid === pid && l.msg === 'sockets open', `pid ${pid} to open its sockets`)
  return (line.udp as net.AddressInfo).port
}

t.test('a named UDP socket under `run`: 2 reloads, the same port, 0 datagrams lost', async t => {
  const udpFile = join(tempDir('fhr-udp-'), 'received.jsonl')
  const s = await startSupervisor({ command: [process.execPath, fixture('sockets-app.ts')], env: { QUIET: '1', UDP_FILE: udpFile } })
  t.teardown(() => s.kill())
  const gen1 = servingPid(s)
  const port = await udpPort(s, gen1)
  t.ok(s.lines.some(l => l.pid === gen1 && l.msg === 'hot-restart: bound a new UDP socket'), 'generation 1 binds it')

  const sender = startSender(port)
  t.teardown(() => sender.close())

  const pids = [gen1]
  for (let i = 0; i < 2; i++) {
    const from = s.lines.length
    process.kill(s.proc.pid!, 'SIGHUP')
    const next = (await s.waitFor(l => l.event === 'supervisor.reload.ready', 'the reload', from)).servingPid as number
    t.equal(await udpPort(s, next), port, `generation ${i + 2} receives on the same UDP port`)
    t.match(s.lines.find(l => l.pid === next && l.msg === 'hot-restart: serving an inherited socket' && l.name === 'statsd'), { address: `127.0.0.1:${port}` }, 'the socket it inherited')
    await predecessorGone(s, next)
    pids.push(next)
  }
  // datagrams arrive in order on one socket: once the fence is in, every number before it is
  sender.fence()
  await s.waitFor(l => l.pid === pids[2] && l.msg === 'udp: fence', 'the fence datagram')
  process.kill(s.proc.pid!, 'SIGTERM')
  t.equal(await s.ended, 0)

  sender.check(t, 'udp under run: reloads 2', udpFile, pids, 500)
})
