// An HTTP/2 load client (node:http2) that records the outcome of every request: `sessions`
// connections, each with `streams` closed-loop clients. A session that got a GOAWAY takes no
// new stream; the next request opens a new session.
// A stream refused with REFUSED_STREAM was not processed by the server (RFC 9113, 8.7): it is
// sent again, as browsers, curl and Go's client do, and counted in `refused`.
import http2 from 'node:http2'
import type { Outcome } from './load'

export interface H2Load {
  outcome: Outcome
  /** Streams refused with REFUSED_STREAM (unprocessed) and sent again. */
  refused: { count: number }
  /** Sessions that received a GOAWAY. */
  goaways: { count: number }
  stop (): Promise<Outcome>
}

/** Opens an HTTP/2 session over TLS to 127.0.0.1 (self-signed certificates accepted). */
export function connect (port: number): http2.ClientHttp2Session {
  const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false })
  session.on('error', () => { /* its streams report it */ })
  return session
}

export interface H2Response { status?: number, body: string, error?: string, rstCode?: number }

/** One GET on `session`; never rejects. */
export function h2get (session: http2.ClientHttp2Session, path: string, timeout = 10000): Promise<H2Response> {
  return new Promise(resolve => {
    const req = session.request({ ':path': path })
    let status: number | undefined
    let body = ''
    let error: string | undefined
    req.setTimeout(timeout, () => { error = 'timeout'; req.close(http2.constants.NGHTTP2_CANCEL) })
    req.on('response', headers => { status = headers[':status'] })
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => { body += chunk })
    req.on('error', (err: NodeJS.ErrnoException) => { error ??= err.code ?? err.message })
    req.on('close', () => resolve({ status, body, error, rstCode: req.rstCode }))
  })
}

export function startH2Load (port: number, { sessions = 4, streams = 5 } = {}): H2Load {
  const outcome: Outcome = { ok: 0, failed: 0, failures: {}, byPid: {}, maxMs: 0 }
  const refused = { count: 0 }
  const goaways = { count: 0 }
  let running = true
  const fail = (why: string): void => {
    outcome.failed++
    outcome.failures[why] = (outcome.failures[why] ?? 0) + 1
  }
  const open: http2.ClientHttp2Session[] = []
  const slots = Array.from({ length: sessions }, () => {
    let session: http2.ClientHttp2Session | undefined
    return (): http2.ClientHttp2Session => {
      if (session === undefined || session.closed || session.destroyed) {
        session = connect(port)
        session.on('goaway', () => { goaways.count++ })
        open.push(session)
      }
      return session
    }
  })
  const loop = async (slot: () => http2.ClientHttp2Session): Promise<void> => {
    while (running) {
      const res = await h2get(slot(), '/')
      if (res.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM && res.status === undefined) {
        refused.count++
        continue
      }
      if (res.error !== undefined) { fail(res.error); continue }
      if (res.status !== 200) { fail(`status ${res.status}`); continue }
      try {
        const pid = String(JSON.parse(res.body).pid)
        outcome.byPid[pid] = (outcome.byPid[pid] ?? 0) + 1
        outcome.ok++
      } catch {
        fail('bad body')
      }
    }
  }
  const loops = slots.flatMap(slot => Array.from({ length: streams }, () => loop(slot)))
  return {
    outcome,
    refused,
    goaways,
    async stop () {
      running = false
      await Promise.all(loops)
      for (const session of open) session.destroy()
      return outcome
    }
  }
}
