// lib/handover-relay.ts in-process: the supervisor's relay (what it takes, where it sends, what
// it does when no worker can take a connection), the raw handle a relayed connection arrives as,
// and the two targets of the predecessor's side. The relay between real processes is in
// test/handover-supervised.test.ts.
import type { ChildProcess } from 'node:child_process'
import { EventEmitter, once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import t from 'tap'
import { listeningAddresses, toSuccessor } from '../../lib/handover'
import { ConnectionRelay, isStreamHandle, type StreamHandle } from '../../lib/handover-relay'
import { socketOnHandle } from '../../lib/node-internals'
import { viaSupervisor } from '../../lib/via-supervisor'
import type { Logger } from '../../lib/log'
import { foreignConnection, type RawConnection } from '../helpers/raw-http'

function logger (): { log: Logger, warnings: Array<Record<string, unknown>> } {
  const warnings: Array<Record<string, unknown>> = []
  const log = { info () {}, warn (fields: Record<string, unknown>) { warnings.push(fields) }, error () {} } as unknown as Logger
  return { log, warnings }
}

/** A handle that records whether it was closed. */
function fakeHandle (): StreamHandle & { closed: boolean } {
  return { closed: false, readStart: () => 0, close () { this.closed = true } }
}

/** A worker whose channel is open (its sends succeed) or closed (they fail), recording what it was sent. */
function worker (open: boolean): { child: ChildProcess, got: unknown[] } {
  const got: unknown[] = []
  const child = {
    send (message: unknown, _handle: unknown, done: (err: Error | null) => void) {
      if (open) got.push(message)
      process.nextTick(done, open ? null : new Error('channel closed'))
      return open
    }
  } as unknown as ChildProcess
  return { child, got }
}

const message = { hotRestart: 'connection', socket: '127.0.0.1:3000' }

t.test('the relay takes connection messages only, and sends each on to the serving workers in turn', async t => {
  const { log, warnings } = logger()
  const relay = new ConnectionRelay(log)
  const a = worker(true)
  const b = worker(true)
  t.notOk(relay.forward({ hotRestart: 'ready' }, undefined, [a, b]), 'another message is left to the supervisor')
  t.notOk(relay.forward({ hotRestart: 'connection', fd: 3 }, fakeHandle(), [a, b]), 'so is a connection message of the wrong shape')
  t.ok(relay.forward(message, undefined, [a, b]), 'one that lost its handle on its way is taken, and nothing is sent')
  const handles = [fakeHandle(), fakeHandle(), fakeHandle()]
  for (const handle of handles) t.ok(relay.forward({ ...message, extra: 'dropped' }, handle, [a, b]))
  await new Promise(resolve => setImmediate(resolve))
  t.same([a.got.length, b.got.length], [2, 1], 'spread over the workers in turn')
  t.same(a.got[0], message, 'sent on as a connection message, nothing else')
  t.ok(handles.every(h => h.closed), 'the supervisor closes its copy of each handle once sent')
  t.same(relay.report, { relayed: 3, dropped: 0 })
  t.same(warnings, [])
})

t.test('a worker that cannot take a connection leaves it to the next; with none, it is closed and logged', async t => {
  const { log, warnings } = logger()
  const relay = new ConnectionRelay(log)
  const gone = worker(false)
  const open = worker(true)
  const first = fakeHandle()
  relay.forward(message, first, [gone, open])
  await new Promise(resolve => setImmediate(resolve))
  t.equal(open.got.length, 1, 'the next worker takes it')
  t.ok(first.closed)
  const lost = fakeHandle()
  relay.forward(message, lost, [gone])
  await new Promise(resolve => setImmediate(resolve))
  const orphan = fakeHandle()
  relay.forward(message, orphan, undefined)
  t.ok(lost.closed && orphan.closed, 'closed when no worker can take it (or none serves)')
  t.same(relay.report, { relayed: 1, dropped: 2 })
  t.same(warnings.map(w => w.event), ['supervisor.connection.dropped', 'supervisor.connection.dropped'])
})

t.test('a raw stream handle is told from a socket and from anything else', async t => {
  const server = http.createServer((_req, res) => res.end('wrapped'))
  await once(server.listen(0, '127.0.0.1'), 'listening')
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const { socket, client: c } = await foreignConnection(t, { pauseOnConnect: true }) as { socket: net.Socket & { _handle: unknown }, client: RawConnection }
  const handle = socket._handle
  t.ok(isStreamHandle(handle), 'a TCP wrap is a raw stream handle')
  t.notOk(isStreamHandle(socket), 'a net.Socket is not')
  t.notOk(isStreamHandle(null))
  t.notOk(isStreamHandle({ close () {} }), 'nor is something without readStart')
  socket._handle = null // this socket gives its handle up, as one sent away does
  server.emit('connection', socketOnHandle(handle as StreamHandle))
  c.write(c.get('/'))
  t.equal((await c.next()).body, 'wrapped')
})

t.test('the targets: the successor gets the socket itself, the supervisor its raw handle', async t => {
  const sent: unknown[][] = []
  const socket = {} as unknown as net.Socket
  const handle = { fd: 42 }
  const done = (): void => {}
  toSuccessor({ send: (...args: unknown[]) => { sent.push(args); return true } } as never).send(message as never, socket, handle, done)
  const target = viaSupervisor(Object.assign(new EventEmitter(), { send: (...args: unknown[]) => { sent.push(args); return true } }))
  target.send(message as never, socket, handle, done)
  t.same(sent.slice(0, 1), [[message, socket, { keepOpen: false }, done]])
  t.same(sent[1]!.slice(0, 2), [message, handle], 'the raw handle, with the message as it is')
})

t.test('with credits, a connection sent to the supervisor is done when the supervisor says it passed it on', async t => {
  const sent: unknown[][] = []
  const proc = Object.assign(new EventEmitter(), { send: (...args: unknown[]) => { sent.push(args); return true } })
  const outcomes: Array<[string, Error | null]> = []
  const target = viaSupervisor(proc, true)
  for (const name of ['a', 'b', 'c']) target.send(message as never, {} as net.Socket, { fd: 1 }, (err) => outcomes.push([name, err]))
  t.same(sent.map(args => args[0]), [0, 1, 2].map(() => ({ ...message, credit: true })), 'each asks for an answer')
  const written = (i: number, err: Error | null): void => (sent[i]![2] as (err: Error | null) => void)(err)
  written(0, null)
  written(1, null)
  const failed = new Error('channel closed')
  written(2, failed)
  t.same(outcomes, [['c', failed]], 'a send that failed is done at once, with its error')
  target.relayed()
  t.same(outcomes.at(-1), ['a', null], 'the oldest one left is done by the answer')
  proc.emit('disconnect')
  t.same(outcomes.at(-1), ['b', null], 'the rest when the channel closes')
  target.relayed()
  t.equal(outcomes.length, 3, 'an answer for nothing is nothing')

  const plain: Array<Error | null> = []
  const without = viaSupervisor(proc)
  without.send(message as never, {} as net.Socket, { fd: 1 }, (err) => plain.push(err))
  t.same(sent.at(-1)![0], message, 'without credits (an older supervisor), none is asked for')
  ;(sent.at(-1)![2] as (err: Error | null) => void)(null)
  t.same(plain, [null], 'and a connection is done once its handle has left')
})

t.test('the relay answers `relayed` to the sender of a connection that asked, once sent on, dropped or lost', async t => {
  const { log } = logger()
  const relay = new ConnectionRelay(log)
  const answers: unknown[] = []
  const from = { connected: true, send: (m: unknown, done: () => void) => { answers.push(m); done(); return true } } as never
  const credit = { ...message, credit: true }
  relay.forward(credit, fakeHandle(), [worker(true)], from)
  relay.forward(credit, fakeHandle(), [worker(false)], from)
  relay.forward(credit, undefined, [worker(true)], from)
  relay.forward(message, fakeHandle(), [worker(true)], from)
  await new Promise(resolve => setImmediate(resolve))
  t.same(answers, [{ hotRestart: 'relayed' }, { hotRestart: 'relayed' }, { hotRestart: 'relayed' }], 'one per connection that asked: relayed, dropped, closed on its way')
  t.same(relay.report, { relayed: 2, dropped: 1 })
  const gone = { connected: false, send: () => { t.fail('a closed channel is not written to'); return false } } as never
  relay.forward(credit, undefined, [], gone)
})

t.test('a connection travels under the address of the listening socket that accepted it', async t => {
  const tcp = http.createServer()
  await once(tcp.listen(0, '127.0.0.1'), 'listening')
  t.teardown(() => tcp.close())
  const idle = http.createServer() // not listening: not handed over
  const addresses = listeningAddresses([{ server: tcp, requested: { host: '127.0.0.1', port: 0 } }, { server: idle, requested: { host: '', port: 0 } }])
  t.same([...addresses], [[tcp, `127.0.0.1:${(tcp.address() as net.AddressInfo).port}`]])
})
