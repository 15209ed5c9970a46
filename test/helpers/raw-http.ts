// One TCP connection that speaks HTTP/1.1 by hand, so that a test controls every byte: when
// a request is sent (whole, in parts, several pipelined) and which connection it goes on.
// Responses are parsed in order (each has a content-length, as Fastify's do).
import { once } from 'node:events'
import net from 'node:net'
import type { Test } from 'tap'
import type { LogLine, RunningApp } from './app'

export interface RawResponse {
  status: number
  /** Header names in lower case. */
  headers: Record<string, string>
  body: string
}

export interface RawConnection {
  socket: net.Socket
  /** Writes bytes as they are. */
  write (text: string): void
  /** A GET request's bytes. */
  get (path: string): string
  /** Resolves with the next response on the connection (in order); rejects if it closes first. */
  next (): Promise<RawResponse>
  /** True once the server closed the connection (or it failed). */
  readonly closed: boolean
  close (): void
}

/** A connection to `port` on `host` (127.0.0.1 unless said). */
export function connect (port: number, host = '127.0.0.1'): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host)
    let buffer = ''
    let closed = false
    const responses: RawResponse[] = []
    const waiting: Array<{ resolve: (r: RawResponse) => void, reject: (e: Error) => void }> = []
    const parse = (): void => {
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n')
        if (end === -1) return
        const [statusLine = '', ...lines] = buffer.slice(0, end).split('\r\n')
        const headers: Record<string, string> = {}
        for (const line of lines) {
          const colon = line.indexOf(':')
          headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
        }
        const length = Number(headers['content-length'] ?? 0)
        if (buffer.length < end + 4 + length) return
        const response = { status: Number(statusLine.split(' ')[1]), headers, body: buffer.slice(end + 4, end + 4 + length) }
        buffer = buffer.slice(end + 4 + length)
        const w = waiting.shift()
        if (w === undefined) responses.push(response)
        else w.resolve(response)
      }
    }
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => { buffer += chunk; parse() })
    socket.on('error', () => {})
    socket.on('close', () => {
      closed = true
      for (const w of waiting.splice(0)) w.reject(new Error('the connection closed before a response'))
    })
    socket.once('error', reject)
    socket.once('connect', () => {
      socket.removeListener('error', reject)
      resolve({
        socket,
        write: (text) => { socket.write(text, 'latin1') },
        get: (path) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
        next: () => {
          const ready = responses.shift()
          if (ready !== undefined) return Promise.resolve(ready)
          if (closed) return Promise.reject(new Error('the connection is closed'))
          return new Promise((resolve, reject) => waiting.push({ resolve, reject }))
        },
        get closed () { return closed },
        close: () => { socket.destroy() }
      })
    })
  })
}

/** The summary of a predecessor's `exit` line, as the hand-over tests read it. */
export interface ExitSummary { moved: number, notMoved: number, closedIdle: number, forced: number, readyToDrainedMs: number }

/** The predecessor's summary line (`exit`), once it has handed over. */
export function summary (app: RunningApp, pid: number): Promise<ExitSummary> {
  return app.waitFor(l => l.pid === pid && l.event === 'exit', `pid ${pid} to exit`)
    .then((line: LogLine) => line.hotRestart as ExitSummary)
}

/** A GET on the connection; resolves with the pid that answered and whether it said close. */
export async function ask (c: RawConnection, path = '/'): Promise<{ pid: number, close: boolean }> {
  c.write(c.get(path))
  const res = await c.next()
  return { pid: (JSON.parse(res.body) as { pid: number }).pid, close: res.headers.connection === 'close' }
}

/**
 * One GET on a raw socket (not a RawConnection: the test reads the head as the server wrote it);
 * resolves with the response head, or how the connection ended.
 */
export function askHead (socket: net.Socket): Promise<string> {
  return new Promise(resolve => {
    if (socket.readableEnded || socket.destroyed) return resolve('closed by the server')
    let head = ''
    const onData = (chunk: Buffer): void => {
      head += chunk
      if (!head.includes('\r\n\r\n')) return
      socket.removeListener('data', onData)
      resolve(head)
    }
    socket.on('data', onData)
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code}`))
    socket.once('end', () => resolve(head === '' ? 'closed by the server' : head))
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  })
}

/**
 * A connection that a server of the test's own accepted, standing for one received from another
 * process: `socket` is the accepted end, `client` the other. The client closes at the test's end.
 */
export async function foreignConnection (t: Test, options: net.ServerOpts = {}): Promise<{ socket: net.Socket, client: RawConnection }> {
  const server = net.createServer(options)
  await once(server.listen(0, '127.0.0.1'), 'listening')
  const accepted = once(server, 'connection')
  const client = await connect((server.address() as net.AddressInfo).port)
  t.teardown(() => client.close())
  const [socket] = await accepted as [net.Socket]
  server.close()
  return { socket, client }
}
