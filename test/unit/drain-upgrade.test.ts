// The drain and upgraded connections (a WebSocket with the `ws` package on a node:http
// server, as an Express app has it): such a connection is not an idle keep-alive socket. A quiet
// one is left to the app (an onDrain hook) until the deadline, never closed as idle.
import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import t from 'tap'
import WebSocket, { WebSocketServer } from 'ws'
import { drain, trackConnections } from '../../lib/drain'

t.test('a quiet WebSocket is not closed as idle: it lives until the deadline (or until the app closes it)', async t => {
  const server = http.createServer((_req, res) => res.end('ok'))
  const untrack = trackConnections(server)
  const wss = new WebSocketServer({ server })
  await once(server.listen(0, '127.0.0.1'), 'listening')
  t.teardown(() => { untrack(); wss.close(); server.close() })
  const port = (server.address() as net.AddressInfo).port

  // the server side of the WebSocket that says "mine" is the one the app will close
  const mine = new Promise<WebSocket>(resolve => wss.on('connection', ws => ws.once('message', () => resolve(ws))))
  const quiet = new WebSocket(`ws://127.0.0.1:${port}`)
  const closedByApp = new WebSocket(`ws://127.0.0.1:${port}`)
  for (const ws of [quiet, closedByApp]) ws.on('error', () => {})
  await Promise.all([once(quiet, 'open'), once(closedByApp, 'open')])
  closedByApp.send('mine')
  const serverSide = await mine
  // an idle keep-alive socket beside them, which the drain closes after the grace
  const agent = new http.Agent({ keepAlive: true })
  t.teardown(() => agent.destroy())
  const keptAlive = await new Promise<net.Socket>(resolve => {
    const req = http.get({ host: '127.0.0.1', port, agent }, res => {
      res.resume()
      res.on('end', () => resolve(req.socket!))
    })
  })

  const quietClosed = once(quiet, 'close')
  const appClosed = once(closedByApp, 'close')
  const idleGrace = 250
  const deadline = idleGrace * 4
  const draining = drain([server], deadline, idleGrace)
  // once the grace is over (the idle keep-alive socket is closed), the app ends one WebSocket
  // as an onDrain hook would
  keptAlive.once('close', () => serverSide.close(1001, 'going away'))
  const report = await draining
  t.equal(report.closedIdle, 1, 'the idle keep-alive socket was closed after the grace')
  t.equal(report.forced, 1, 'the quiet WebSocket was open until the deadline')
  t.ok(report.durationMs >= deadline - 5, `the drain waited for the deadline (${report.durationMs} ms)`)
  t.equal((await appClosed)[0], 1001, 'the one the app closed got its close frame')
  t.equal((await quietClosed)[0], 1006, 'the quiet one was cut at the deadline')
})
