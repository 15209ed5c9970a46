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
