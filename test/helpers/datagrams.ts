// A steady UDP sender of numbered datagrams to test/fixtures/sockets-app.ts, and the account of
// what its generations received (each appends its numbers to UDP_FILE at exit): none may be
// lost but as the kernel counts a full receive buffer, none received twice.
import dgram from 'node:dgram'
import { readFileSync } from 'node:fs'
import type { Test } from 'tap'

/** Datagrams the kernel dropped because a UDP receive buffer was full (Linux), machine-wide. */
function udpBufferDrops (): number {
  const [names, values] = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter(l => l.startsWith('Udp: ')).map(l => l.split(' '))
  return Number(values![names!.indexOf('RcvbufErrors')])
}

export interface Sender {
  readonly sent: number
  readonly sendErrors: number
  /** Stops sending, then sends "fence": once it is received, every number before it is. */
  fence (): void
  /** Stops sending and closes the socket (idempotent). */
  close (): void
  /** Checks what the generations `pids` wrote to `udpFile`; `label` starts the comment. */
  check (t: Test, label: string, udpFile: string, pids: number[], minSent: number): void
}

/** Sends `perMs` numbered datagrams to 127.0.0.1:`port` every millisecond. */
export function startSender (port: number, perMs = 1): Sender {
  const dropsBefore = udpBufferDrops()
  const socket = dgram.createSocket('udp4')
  let sent = 0
  let sendErrors = 0
  let closed = false
  const onSent = (err: Error | null): void => { if (err) sendErrors++ }
  const ticker = setInterval(() => {
    for (let i = 0; i < perMs; i++) socket.send(String(++sent), port, '127.0.0.1', onSent)
  }, 1)
  return {
    get sent () { return sent },
    get sendErrors () { return sendErrors },
    fence () {
      clearInterval(ticker)
      socket.send('fence', port, '127.0.0.1')
    },
    close () {
      clearInterval(ticker)
      if (!closed) socket.close()
      closed = true
    },
    check (t, label, udpFile, pids, minSent) {
      const generations = readFileSync(udpFile, 'utf8').trim().split('\n').map(l => JSON.parse(l) as { pid: number, received: number[] })
      const all = generations.flatMap(g => g.received)
      const unique = new Set(all)
      const lost = sent - unique.size
      // on a loaded machine a generation can fall behind a fast sender and its receive buffer
      // fill up: the kernel counts each datagram dropped that way; none may be lost otherwise
      const overflowed = udpBufferDrops() - dropsBefore
      t.comment(`${label}: datagrams sent ${sent}, received ${unique.size}, lost ${lost} (receive buffer overflows: ${overflowed}), ` +
        `duplicated ${all.length - unique.size}, per generation ${generations.map(g => g.received.length).join(' ')}, send errors ${sendErrors}`)
      t.equal(sendErrors, 0)
      t.ok(sent > minSent, 'the sender ran')
      t.ok(lost <= overflowed, `no datagram lost but to a full receive buffer (${lost} lost, ${overflowed} overflowed)`)
      t.equal(all.length, unique.size, 'none received twice')
      t.same(generations.map(g => g.pid).sort(), [...pids].sort(), 'each generation reported what it received')
      t.ok(generations.every(g => g.received.length > 0), 'each generation received datagrams')
    }
  }
}
