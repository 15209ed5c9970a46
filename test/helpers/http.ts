// One HTTP request on a new connection (or on `agent`), with its JSON body.
import http from 'node:http'

export interface Response {
  status: number
  headers: http.IncomingHttpHeaders
  body: Record<string, any>
}

export function request (port: number, path: string, { method = 'GET', agent }: { method?: string, agent?: http.Agent } = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: agent ?? false }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', c => { body += c })
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(body) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** A polling client's outcome: the JSON body of a 200, or why the request failed (`error`). */
export type Polled<T> = Partial<T> & { error?: string }

export interface Poller<T> {
  /** Every outcome, in order. */
  readonly outcomes: Array<Polled<T>>
  /** Resolves with whether the newest outcome matches `done` (waits for one that does, at most 60 s). */
  until (done: (outcome: Polled<T>) => boolean): Promise<boolean>
  /** Resolves once `count` more outcomes have come (or 60 s have passed); returns them. */
  next (count: number): Promise<Array<Polled<T>>>
  /** Stops the clients; resolves once each has its last outcome. */
  stop (): Promise<Array<Polled<T>>>
}

/** `clients` keep-alive clients that GET `/` one after another (bounded), keeping every outcome. */
export function poll<T extends object> (port: number, clients = 2): Poller<T> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients })
  const outcomes: Array<Polled<T>> = []
  let stopped = false
  const failed = (error: string): Polled<T> => ({ error }) as Polled<T>
  const get = (): Promise<Polled<T>> => new Promise(resolve => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent }, res => {
      let body = ''
      res.on('data', chunk => { body += String(chunk) })
      res.on('end', () => resolve(res.statusCode === 200 ? JSON.parse(body) as Polled<T> : failed(`status ${res.statusCode}`)))
    })
    req.setTimeout(20_000, () => req.destroy(new Error('timed out')))
    req.on('error', err => resolve(failed((err as NodeJS.ErrnoException).code ?? err.message)))
  })
  // each outcome wakes the waits (see wait)
  const waits = new Set<() => void>()
  const running = Array.from({ length: clients }, async () => {
    for (let i = 0; i < 50_000 && !stopped; i++) {
      outcomes.push(await get())
      for (const wake of waits) wake()
    }
  })
  /** Resolves once `done()` holds after an outcome, or after 60 s. */
  const wait = (done: () => boolean): Promise<void> => new Promise(resolve => {
    if (done()) return resolve()
    const end = (): void => { clearTimeout(timer); waits.delete(wake); resolve() }
    const wake = (): void => { if (done()) end() }
    const timer = setTimeout(end, 60_000)
    waits.add(wake)
  })
  return {
    outcomes,
    async until (done) {
      await wait(() => outcomes.length > 0 && done(outcomes.at(-1)!))
      return outcomes.length > 0 && done(outcomes.at(-1)!)
    },
    async next (count) {
      const from = outcomes.length
      await wait(() => outcomes.length >= from + count)
      return outcomes.slice(from)
    },
    async stop () {
      stopped = true
      await Promise.all(running)
      agent.destroy()
      return outcomes
    }
  }
}
