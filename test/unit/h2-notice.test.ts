// Why the drain sends HTTP/2 sessions one GOAWAY, not RFC 9113 section 6.8's two steps (a notice
// with last-stream-id 2^31-1, a PING, then the real GOAWAY): Node's `session.goaway(code,
// 2 ** 31 - 1)` is a GOAWAY like any other inside nghttp2 (Node does not expose
// `nghttp2_submit_shutdown_notice()`). This test pins what Node does, in-process, with a client
// of raw frames (node:http2's client opens no stream once it has read a GOAWAY): if it fails,
// Node has changed, and the two-step shutdown may be possible (see the README's Caveats).
import { once } from 'node:events'
import http2 from 'node:http2'
import net from 'node:net'
import t from 'tap'

interface Frame { type: number, flags: number, stream: number, payload: Buffer }
const HEADERS = 1
const SETTINGS = 4
const PING = 6
const GOAWAY = 7

function frame (type: number, flags: number, stream: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9)
  head.writeUIntBE(payload.length, 0, 3)
  head[3] = type
  head[4] = flags
  head.writeUInt32BE(stream, 5)
  return Buffer.concat([head, payload])
}

/** A GET's header block (HPACK: static :method GET, :scheme http; :path and :authority literal). */
function get (stream: number, path: string): Buffer {
  const block = Buffer.concat([Buffer.from([0x82, 0x86, 0x04, path.length]), Buffer.from(path), Buffer.from([0x01, 9]), Buffer.from('localhost')])
  return frame(HEADERS, 0x5, stream, block)
}

t.test('after session.goaway(NO_ERROR, 2^31-1), Node serves no new stream: the notice is a real GOAWAY', async t => {
  const server = http2.createServer()
  const served: string[] = []
  let hold: (() => void) | undefined
  server.on('stream', (stream, headers) => {
    served.push(String(headers[':path']))
    const answer = (): void => { stream.respond({ ':status': 200 }); stream.end('ok') }
    if (headers[':path'] === '/hold') hold = answer
    else answer()
  })
  const sessions: http2.ServerHttp2Session[] = []
  server.on('session', session => sessions.push(session))
  await once(server.listen(0, '127.0.0.1'), 'listening')
  t.teardown(() => server.close())
  const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  const frames: Frame[] = []
  let buffer = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk])
    while (buffer.length >= 9 && buffer.length >= 9 + buffer.readUIntBE(0, 3)) {
      const length = buffer.readUIntBE(0, 3)
      const f = { type: buffer[3]!, flags: buffer[4]!, stream: buffer.readUInt32BE(5), payload: Buffer.from(buffer.subarray(9, 9 + length)) }
      buffer = buffer.subarray(9 + length)
      if (f.type === SETTINGS && (f.flags & 1) === 0) socket.write(frame(SETTINGS, 1, 0))
      frames.push(f)
    }
  })
  const until = async (check: () => boolean, what: string): Promise<void> => {
    for (let i = 0; i < 500 && !check(); i++) await new Promise(resolve => setTimeout(resolve, 10))
    t.ok(check(), what)
  }
  await once(socket, 'connect')
  socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(SETTINGS, 0, 0), get(1, '/'), get(3, '/hold')]))
  await until(() => hold !== undefined, 'a stream held open')
  const session = sessions[0]!
  const answered = new Promise(resolve => {
    session.goaway(http2.constants.NGHTTP2_NO_ERROR, 2 ** 31 - 1)
    setImmediate(() => session.ping(resolve))
  })
  await until(() => frames.some(f => f.type === PING && (f.flags & 1) === 0), 'the notice, then a PING')
  const notice = frames.find(f => f.type === GOAWAY)!
  t.equal(notice.payload.readUInt32BE(0), 2 ** 31 - 1, 'the notice names stream 2^31-1')
  // a stream opened while the notice travelled, then the answer to the PING
  socket.write(get(5, '/late'))
  socket.write(frame(PING, 1, 0, frames.find(f => f.type === PING)!.payload))
  await answered
  session.close()
  hold!()
  await until(() => frames.filter(f => f.type === GOAWAY).length >= 2, 'the final GOAWAY')
  t.equal(frames.filter(f => f.type === GOAWAY)[1]!.payload.readUInt32BE(0), 3, 'which names stream 3: stream 5 was not processed')
  t.same(served, ['/', '/hold'], 'the stream opened after the notice never reached the app')
})
