// Issue 10 item 12: new code that listens on another unix socket path. The old path, which no
// listen() claimed, is closed and unlinked once the successor is ready (DESIGN 4.4), so that
// rolling the path back binds it again instead of failing with EADDRINUSE on a stale file.
import { existsSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import t from 'tap'
import { fixture, reload, startApp, tempDir } from '../helpers/app'

function get (socketPath: string): Promise<{ pid: number, generation: number }> {
  return new Promise((resolve, reject) => {
    http.get({ socketPath, path: '/', agent: false }, res => {
      let body = ''
      res.on('data', c => { body += c })
      res.on('end', () => resolve(JSON.parse(body)))
    }).on('error', reject)
  })
}

t.test('a unix socket path moved by new code is unlinked; moving it back works', async t => {
  const dir = tempDir('fhr-moved-')
  const [a, b] = [join(dir, 'a.sock'), join(dir, 'b.sock')]
  const pathFile = join(dir, 'path')
  writeFileSync(pathFile, a)
  const app = await startApp({ LISTEN_PATH_FILE: pathFile }, fixture('late-load.ts'))
  t.teardown(() => app.kill())
  const first = app.proc.pid as number
  t.match(await get(a), { pid: first })

  writeFileSync(pathFile, b)
  const { successorPid: second } = await reload(app, first)
  await app.waitFor(l => l.pid === second && l.event === 'predecessor.exited', 'generation 1 to exit')
  t.match(await get(b), { pid: second, generation: 2 }, 'the new path serves')
  t.notOk(existsSync(a), 'the old path is gone')

  writeFileSync(pathFile, a)
  const { successorPid: third } = await reload(app, second)
  await app.waitFor(l => l.pid === third && l.event === 'predecessor.exited', 'generation 2 to exit')
  t.match(await get(a), { pid: third, generation: 3 }, 'the path rolled back serves')
  t.notOk(existsSync(b), 'and the other one is gone')
  await app.stop(third)
  t.notOk(existsSync(a), 'the stop unlinks the served path')
})
