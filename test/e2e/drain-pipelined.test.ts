// Issue 10 item 7: requests pipelined on a kept-alive socket when the drain starts. Every
// request the server has read is answered, `Connection: close` on the last response only
// (before: the first response said close, Node closed the socket after it, and the 4 other
// requests, already routed, were never answered).
import net from 'node:net'
import t from 'tap'
import { reload, startApp } from '../helpers/app'

t.test('5 pipelined requests when the drain starts: 5 answers, close on the last only', async t => {
  // the drain (test/e2e/handover.test.ts has them with the hand-over), closing at once (the
  // spread of the closes: test/e2e/close-spread.test.ts)
  const app = await startApp({ HANDOVER: '0', CLOSE_SPREAD: '0' })
  t.teardown(() => app.kill())
  const first = app.proc.pid as number
  const socket = net.connect(app.port, '127.0.0.1')
  let received = ''
  socket.setEncoding('latin1')
  socket.on('data', chunk => { received += chunk })
  const closed = new Promise<void>(resolve => socket.once('close', () => resolve()))
  await new Promise<void>(resolve => socket.once('connect', () => resolve()))
  // each handler waits until the process drains, then answers 100 ms later
  const urls = [1, 2, 3, 4, 5].map(n => `/hold?ms=100&n=${n}`)
  socket.write(urls.map(url => `GET ${url} HTTP/1.1\r\nHost: x\r\n\r\n`).join(''))
  const routed = (): number => app.lines.filter(l => l.pid === first && l.msg === 'incoming request').length
  for (const url of urls) await app.waitFor(l => l.pid === first && (l.req as { url?: string } | undefined)?.url === url, `${url} to be routed`)
  t.equal(routed(), 5, 'the server read and routed all 5')
  await reload(app, first)
  await closed
  const responses = received.split(/(?=HTTP\/1\.1 )/).filter(part => part.startsWith('HTTP/1.1 '))
  t.equal(responses.length, 5, 'every request routed is answered')
  t.same(responses.map(r => /^HTTP\/1\.1 (\d+)/.exec(r)?.[1]), ['200', '200', '200', '200', '200'])
  t.same(responses.map(r => /\r\nconnection: (\S+)/i.exec(r)?.[1]?.toLowerCase()), ['keep-alive', 'keep-alive', 'keep-alive', 'keep-alive', 'close'],
    'Connection: close on the last response only')
  t.same(responses.map(r => JSON.parse(r.slice(r.indexOf('\r\n\r\n') + 4)).pid), [first, first, first, first, first])
  t.equal(routed(), 5, 'and nothing was routed twice')
})
