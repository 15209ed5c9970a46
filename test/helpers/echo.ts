// A load client for the echo protocol of fixtures/sockets-app.ts that records every exchange:
// `persistent` clients that send line after line on one connection (and connect again when the
// server says "bye"), and `fresh` clients that open a connection per line.
import net from 'node:net'
import type { Load, Outcome } from './load'

let counter = 0

/** One connection: lines until the server says bye, the client stops, or it fails. */
function connection (port: number, outcome: Outcome, more: () => boolean): Promise<void> {
  return new Promise(resolve => {
    const socket = net.connect(port, '127.0.0.1')
    let buffered = ''
    let pending: string | undefined
    let finished = false
    const finish = (why?: string): void => {
      if (finished) return
      finished = true
      if (why !== undefined) {
        outcome.failed++
        outcome.failures[why] = (outcome.failures[why] ?? 0) + 1
      }
      socket.destroy()
      resolve()
    }
    const send = (): void => {
      pending = String(++counter)
      socket.write(`${pending}\n`)
    }
    socket.setEncoding('utf8')
    socket.setTimeout(10000, () => finish('timeout'))
    socket.on('connect', send)
    socket.on('data', (chunk: string) => {
      buffered += chunk
      for (let i = buffered.indexOf('\n'); i !== -1; i = buffered.indexOf('\n')) {
        const [line, pid, bye] = buffered.slice(0, i).split(' ')
        buffered = buffered.slice(i + 1)
        if (line !== pending) return finish('wrong reply')
        pending = undefined
        outcome.ok++
        outcome.byPid[pid!] = (outcome.byPid[pid!] ?? 0) + 1
        if (bye === 'bye' || !more()) socket.end()
        else send()
      }
    })
    socket.on('error', (err: NodeJS.ErrnoException) => finish(err.code ?? err.message))
    socket.on('close', () => finish(pending === undefined ? undefined : 'closed with a line unanswered'))
  })
}

export function startEchoLoad (port: number, { persistent = 10, fresh = 2 } = {}): Load {
  const outcome: Outcome = { ok: 0, failed: 0, failures: {}, byPid: {}, maxMs: 0 }
  let running = true
  const loop = async (more: () => boolean): Promise<void> => {
    while (running) await connection(port, outcome, more)
  }
  const loops = [
    ...Array.from({ length: persistent }, () => loop(() => running)),
    ...Array.from({ length: fresh }, () => loop(() => false))
  ]
  return {
    outcome,
    async stop () {
      running = false
      await Promise.all(loops)
      return outcome
    }
  }
}
