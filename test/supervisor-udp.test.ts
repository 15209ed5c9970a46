// A UDP socket opened by name, under the supervisor: the serving generation hands it to the
// supervisor, which hands it to the next one; a steady sender's datagrams reach every
// generation on the one port, and none is lost but to a receive buffer the kernel counts full.
import dgram from 'node:dgram'
import { mkdtempSync, readFileSync } from 'node:fs'
import type net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { fixture } from './helpers/app'
import { predecessorGone, servingPid, startSupervisor, type Supervised } from './helpers/supervisor'

/** Datagrams the kernel dropped because a UDP receive buffer was full (Linux), machine-wide. */
function udpBufferDrops (): number {
  const [names, values] = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter(l => l.startsWith('Udp: ')).map(l => l.split(' '))
  return Number(values![names!.indexOf('RcvbufErrors')])
}

async function udpPort (s: Supervised, pid: number): Promise<number> {
  const line = await s.waitFor(l => l.pid === pid && l.msg === 'sockets open', `pid ${pid} to open its sockets`)
  return (line.udp as net.AddressInfo).port
}

t.test('a named UDP socket under `run`: 2 reloads, the same port, 0 datagrams lost', async t => {
  const udpFile = join(mkdtempSync(join(tmpdir(), 'fhr-udp-')), 'received.jsonl')
  const s = await startSupervisor({ command: [process.execPath, ...process.execArgv, fixture('sockets-app.ts')], env: { QUIET: '1', UDP_FILE: udpFile } })
  t.teardown(() => s.kill())
  const gen1 = servingPid(s)
  const port = await udpPort(s, gen1)
  t.ok(s.lines.some(l => l.pid === gen1 && l.msg === 'hot-restart: bound a new UDP socket'), 'generation 1 binds it')

  const dropsBefore = udpBufferDrops()
  const sender = dgram.createSocket('udp4')
  let sent = 0
  let sendErrors = 0
  const onSent = (err: Error | null): void => { if (err) sendErrors++ }
  const ticker = setInterval(() => { sender.send(String(++sent), port, '127.0.0.1', onSent) }, 1)
  t.teardown(() => { clearInterval(ticker); sender.close() })

  const pids = [gen1]
  for (let i = 0; i < 2; i++) {
    const from = s.lines.length
    process.kill(s.proc.pid!, 'SIGHUP')
    const next = (await s.waitFor(l => l.msg === 'hot-restart supervisor: reloaded', 'the reload', from)).servingPid as number
    t.equal(await udpPort(s, next), port, `generation ${i + 2} receives on the same UDP port`)
    t.match(s.lines.find(l => l.pid === next && l.msg === 'hot-restart: serving an inherited socket' && l.name === 'statsd'), { address: `127.0.0.1:${port}` }, 'the socket it inherited')
    await predecessorGone(s, next)
    pids.push(next)
  }
  clearInterval(ticker)
  // datagrams arrive in order on one socket: once the fence is in, every number before it is
  sender.send('fence', port, '127.0.0.1')
  await s.waitFor(l => l.pid === pids[2] && l.msg === 'udp: fence', 'the fence datagram')
  process.kill(s.proc.pid!, 'SIGTERM')
  t.equal(await s.ended, 0)

  const generations = readFileSync(udpFile, 'utf8').trim().split('\n').map(l => JSON.parse(l) as { pid: number, received: number[] })
  const all = generations.flatMap(g => g.received)
  const unique = new Set(all)
  const lost = sent - unique.size
  const overflowed = udpBufferDrops() - dropsBefore
  t.comment(`udp under run: reloads 2, datagrams sent ${sent}, received ${unique.size}, lost ${lost} (receive buffer overflows: ${overflowed}), ` +
    `duplicated ${all.length - unique.size}, per generation ${generations.map(g => g.received.length).join(' ')}, send errors ${sendErrors}`)
  t.equal(sendErrors, 0)
  t.ok(sent > 500, 'the sender ran')
  t.ok(lost <= overflowed, `no datagram lost but to a full receive buffer (${lost} lost, ${overflowed} overflowed)`)
  t.equal(all.length, unique.size, 'none received twice')
  t.same(generations.map(g => g.pid).sort(), [...pids].sort(), 'each generation reported what it received')
  t.ok(generations.every(g => g.received.length > 0), 'each generation received datagrams')
})
