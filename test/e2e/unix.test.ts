// A unix socket across reloads: the path is handed over, never unlinked by a predecessor,
// served with 0 failed requests, and removed by the last generation's shutdown.
import { existsSync, readdirSync, statSync } from 'node:fs'
import http from 'node:http'
import { dirname, join } from 'node:path'
import t from 'tap'
import { predecessorGone, reload, startApp, tempDir } from '../helpers/app'
import { PACE } from '../helpers/load'

function get (socketPath: string, agent: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ socketPath, path: '/', agent }, res => {
      let body = ''
      res.on('data', c => { body += c })
      res.on('end', () => resolve(JSON.parse(body).pid))
    }).on('error', reject)
  })
}

t.test('a unix socket: 3 reloads under load, 0 failed; the path is removed at shutdown', async t => {
  const path = join(tempDir('fhr-unix-'), 'app.sock')
  const app = await startApp({ LISTEN_PATH: path, QUIET: '1' })
  t.teardown(() => app.kill())
  t.ok(statSync(path).isSocket(), 'the socket is at its path')
  t.same(readdirSync(dirname(path)), ['app.sock'], 'no temporary name is left')
  let running = true
  let ok = 0
  const failures: string[] = []
  const agent = new http.Agent({ keepAlive: true, maxSockets: 20 })
  t.teardown(() => agent.destroy())
  const loops = Array.from({ length: 20 }, async () => {
    for (let i = 0; i < 50_000 && running; i++) {
      await get(path, agent).then(() => { ok++ }, (err: NodeJS.ErrnoException) => { failures.push(err.code ?? err.message) })
      await new Promise(resolve => setTimeout(resolve, PACE))
    }
  })
  let pid = app.proc.pid!
  const pids = new Set([pid])
  for (let i = 0; i < 3; i++) {
    const { successorPid } = await reload(app, pid)
    await predecessorGone(app, successorPid)
    t.ok(statSync(path).isSocket(), `after reload ${i + 1} the path is still there`)
    // Fastify logs server.address(): the successor reports the path of the socket it inherited
    await app.waitFor(l => l.pid === successorPid && l.msg === `Server listening at ${path}`, 'the successor to report its path')
    pid = successorPid
    pids.add(pid)
  }
  running = false
  await Promise.all(loops)
  t.comment(`unix socket: reloads 3, requests ${ok + failures.length}, failed ${failures.length} ${JSON.stringify(failures.slice(0, 5))}`)
  t.equal(failures.length, 0, 'no request failed')
  t.equal(await get(path, new http.Agent()), pid, 'the last generation serves on the path')
  // the pool's sockets closed first, so that the stop does not wait idleGrace for them
  agent.destroy()
  await app.stop(pid)
  t.notOk(existsSync(path), 'the last generation removed the path')
})
