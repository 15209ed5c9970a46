// WebSocket connections open during a reload (@fastify/websocket). With an onDrain hook that
// closes them with 1001 "going away", a client that follows the protocol (reconnect on 1001,
// resend what was not acked) reconnects to the successor and loses no message. Without the
// hook, the connection lives until drainTimeout and is cut then.
import { once } from 'node:events'
import t from 'tap'
import WebSocket from 'ws'
import { predecessorGone, reload, startApp } from '../helpers/app'
import { exitLine } from '../helpers/log-lines'

/**
 * A client that sends numbered messages one after the other, each once the previous is acked,
 * and on a close 1001 reconnects and resends what was not acked.
 */
class Client {
  readonly acks = new Map<number, number>() // id -> pid that acked it
  readonly closes: Array<{ code: number, reason: string }> = []
  readonly connections: number[] = [] // the pid that acked first on each connection
  private next = 1
  private pending: number | undefined
  private socket!: WebSocket
  private running = true
  private stopped!: () => void
  readonly done = new Promise<void>(resolve => { this.stopped = resolve })
  private readonly port: number
  private waiter: { count: number, pid?: number, resolve: () => void } | undefined

  constructor (port: number) {
    this.port = port
    this.connect()
  }

  private connect (): void {
    const socket = new WebSocket(`ws://127.0.0.1:${this.port}/ws`)
    this.socket = socket
    let first = true
    socket.on('open', () => {
      // the protocol: what was sent and not acked is sent again
      if (this.pending !== undefined) this.send(this.pending)
      else this.send(this.next++)
    })
    socket.on('message', (data: Buffer) => {
      const { ack, pid } = JSON.parse(String(data)) as { ack: number, pid: number }
      if (first) { this.connections.push(pid); first = false }
      if (!this.acks.has(ack)) this.acks.set(ack, pid)
      if (ack === this.pending) this.pending = undefined
      const w = this.waiter
      if (w !== undefined && this.acks.size >= w.count && (w.pid === undefined || pid === w.pid)) { this.waiter = undefined; w.resolve() }
      if (this.running) this.send(this.next++)
      else socket.close(1000)
    })
    socket.on('close', (code: number, reason: Buffer) => {
      this.closes.push({ code, reason: String(reason) })
      if (this.running && code === 1001) this.connect()
      else this.stopped()
    })
    socket.on('error', () => { /* followed by 'close' */ })
  }

  private send (id: number): void {
    this.pending = id
    this.socket.send(JSON.stringify({ id }))
  }

  /** Resolves once `count` messages are acked, the last of them by `pid` if given. */
  acked (count: number, pid?: number): Promise<void> {
    return new Promise(resolve => { this.waiter = { count, pid, resolve } })
  }

  /** Stops after the next ack; resolves once the connection is closed. */
  stop (): Promise<void> {
    this.running = false
    return this.done
  }

  get sent (): number {
    return this.next - 1
  }
}

t.test('an onDrain hook closes WebSockets with 1001; clients reconnect to the successor and lose no message', async t => {
  const app = await startApp({ WEBSOCKET: '1', DRAIN_TIMEOUT: '20000', QUIET: '1' })
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  const clients = Array.from({ length: 5 }, () => new Client(app.port))
  await Promise.all(clients.map(c => c.acked(10)))

  const { successorPid } = await reload(app, pid)
  // each client goes on with the successor
  await Promise.all(clients.map(c => c.acked(c.acks.size + 10, successorPid)))
  const handedOver = await app.waitFor(l => l.pid === pid && exitLine(l, 'upgrade'), 'the hand-over')
  await Promise.all(clients.map(c => c.stop()))

  const info = handedOver.hotRestart as { forced: number, readyToDrainedMs: number }
  t.equal(info.forced, 0, 'nothing was forced: the hook ended every WebSocket')
  t.ok(info.readyToDrainedMs < 5000, `the drain did not wait for drainTimeout (${info.readyToDrainedMs} ms)`)
  for (const [i, c] of clients.entries()) {
    t.same(c.closes.map(x => x.code), [1001, 1000], `client ${i}: closed with 1001 by the predecessor, then by itself`)
    t.equal(c.closes[0]!.reason, 'going away')
    t.same(c.connections, [pid, successorPid], `client ${i}: reconnected to the successor`)
    const lost = Array.from({ length: c.sent }, (_, k) => k + 1).filter(id => !c.acks.has(id))
    t.same(lost, [], `client ${i}: all ${c.sent} messages acked, none lost`)
    t.ok([...c.acks.values()].includes(pid) && [...c.acks.values()].includes(successorPid), `client ${i}: acks from both generations`)
  }
  await predecessorGone(app, successorPid)
  await app.stop(successorPid)
})

t.test('without an onDrain hook a WebSocket lives until drainTimeout, then is cut', async t => {
  const app = await startApp({ WEBSOCKET: '1', WS_DRAIN_HOOK: '0', DRAIN_TIMEOUT: '1500', QUIET: '1' })
  t.teardown(() => app.kill())
  const pid = app.proc.pid!
  // an idle connection: opened, one message, then quiet
  const socket = new WebSocket(`ws://127.0.0.1:${app.port}/ws`)
  socket.on('error', () => {})
  await once(socket, 'open')
  socket.send(JSON.stringify({ id: 1 }))
  t.match(JSON.parse(String((await once(socket, 'message'))[0])), { ack: 1, pid })
  const closed = once(socket, 'close')
  const { successorPid } = await reload(app, pid)
  const forced = await app.waitFor(l => l.pid === pid && l.event === 'drain.forced', 'the forced close')
  t.equal(forced.forced, 1, 'the WebSocket was open until the deadline, and closed then')
  const [code] = await closed
  t.equal(code, 1006, 'the client sees an abnormal closure')
  await predecessorGone(app, successorPid)
  await app.stop(successorPid)
})
