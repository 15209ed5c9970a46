// A load client that records the outcome of every request: keep-alive clients in closed loops
// and a loop of requests on new connections.
import http from 'node:http'
import https from 'node:https'

export interface Outcome {
  ok: number
  failed: number
  /** failure class -> count: `status 503`, `ECONNRESET`, `ECONNREFUSED`, `timeout`... */
  failures: Record<string, number>
  /** Responses by pid that served them. */
  byPid: Record<string, number>
  /** The longest time a request took, successful or not (ms); 0 where the client does not time requests. */
  maxMs: number
}

export interface Load {
  outcome: Outcome
  /** Stops sending and resolves once every request in flight has an outcome. */
  stop (): Promise<Outcome>
}

function request (port: number, agent: http.Agent | false, outcome: Outcome, path = '/', tls = false): Promise<void> {
  const started = performance.now()
  return new Promise<void>(resolve => {
    const fail = (why: string): void => {
      outcome.failed++
      outcome.failures[why] = (outcome.failures[why] ?? 0) + 1
      resolve()
    }
    // tls: the test certificates are self-signed
    const req = (tls ? https : http).get({ host: '127.0.0.1', port, path, agent, timeout: 10000, rejectUnauthorized: false }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => { body += chunk })
      res.on('end', () => {
        if (res.statusCode !== 200) return fail(`status ${res.statusCode}`)
        try {
          const pid = String(JSON.parse(body).pid)
          outcome.byPid[pid] = (outcome.byPid[pid] ?? 0) + 1
        } catch {
          return fail('bad body')
        }
        outcome.ok++
        resolve()
      })
      res.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message))
    })
    req.on('timeout', () => { req.destroy(new Error('timeout')) })
    req.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message))
  }).then(() => { outcome.maxMs = Math.max(outcome.maxMs, performance.now() - started) })
}

/**
 * The pace of the load in the tests whose load is there to catch a failed request at each
 * transition (one request per client per PACE ms): the clients in closed loops kept the test's
 * server and client busy for the whole test, about 1.5 cores of a 2-core machine, and took them
 * from the test files running beside it. reload-load and handover-load keep closed loops: they
 * prove the reload under a load as heavy as the machine can give.
 */
export const PACE = 10

/**
 * Starts `keepAlive` closed-loop clients on kept-alive connections and `fresh` closed-loop
 * clients that open a new connection per request; over HTTPS with `tls`. With `interval` (ms),
 * each client paces itself: one request per interval at most (a light load).
 */
export function startLoad (port: number, { keepAlive = 50, fresh = 4, tls = false, interval = 0 } = {}): Load {
  const outcome: Outcome = { ok: 0, failed: 0, failures: {}, byPid: {}, maxMs: 0 }
  let running = true
  const agent = new (tls ? https : http).Agent({ keepAlive: true, maxSockets: keepAlive })
  const loop = async (a: http.Agent | false): Promise<void> => {
    while (running) {
      const paced = interval > 0 ? new Promise(resolve => setTimeout(resolve, interval)) : undefined
      await request(port, a, outcome, '/', tls)
      await paced
    }
  }
  const loops = [
    ...Array.from({ length: keepAlive }, () => loop(agent)),
    ...Array.from({ length: fresh }, () => loop(false))
  ]
  return {
    outcome,
    async stop () {
      running = false
      await Promise.all(loops)
      agent.destroy()
      return outcome
    }
  }
}
