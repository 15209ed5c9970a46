import { join } from 'node:path'
import t from 'tap'
import { spawnSuccessor } from '../../lib/successor'
import { tempDir } from '../helpers/app'

t.test('a successor that cannot be started is reported with the reason', async t => {
  const successor = spawnSuccessor({
    manifest: { version: 1, pid: process.pid, generation: 2, cwd: process.cwd(), sockets: [] },
    fds: [],
    readyTimeout: 5000,
    execPath: '/nonexistent/node',
    args: []
  })
  t.equal(successor.pid, undefined)
  await t.rejects(successor.ready, { code: 'FST_HOT_RESTART_SUCCESSOR_EXITED', message: /could not be started \(spawn \/nonexistent\/node ENOENT\)/ })
  await successor.kill()
})

t.test('a successor that says ready, and one that sends junk first', async t => {
  const warned: string[] = []
  const successor = spawnSuccessor({
    manifest: { version: 1, pid: process.pid, generation: 2, cwd: process.cwd(), sockets: [] },
    fds: [],
    readyTimeout: 10000,
    execPath: process.execPath,
    args: ['-e', 'process.send(null); process.send("x"); process.send({ hotRestart: "ready", pid: "me" }); process.send({ hotRestart: "error", message: "first\\nsecond" }); process.send({ hotRestart: "ready" }); process.disconnect()'],
    log: { info () {}, error () {}, warn (obj: { event?: string, why?: string }) { warned.push(`${obj.event} ${obj.why}`) } }
  })
  const ready = await successor.ready
  t.same(warned, ['protocol.rejected "ready": "pid" is not a pid'], 'a ready of the wrong shape is logged and dropped')
  t.equal(ready.pid, successor.pid)
  t.type(ready.readyMs, 'number')
  await successor.kill()
  await successor.kill()
})

t.test('a spawn that fails at once (E2BIG: an argument over 128 KiB) is a failed boot, not a throw', async t => {
  const successor = spawnSuccessor({
    manifest: undefined,
    fds: [],
    readyTimeout: 10000,
    execPath: process.execPath,
    args: ['-e', `//${'x'.repeat(200_000)}`]
  })
  t.equal(successor.pid, undefined)
  await t.rejects(successor.ready, { code: 'FST_HOT_RESTART_SUCCESSOR_EXITED', message: /could not be started \(.*E2BIG/ })
  await successor.kill()
})

t.test('a first generation\'s folder that was deleted is named as the reason, not node (issue 10, item 16)', async t => {
  const gone = join(tempDir('fhr-gone-'), 'releases', '41')
  const successor = spawnSuccessor({
    manifest: { version: 1, pid: process.pid, generation: 2, cwd: gone, sockets: [] },
    fds: [],
    readyTimeout: 10000,
    execPath: process.execPath,
    args: ['-e', '']
  })
  await t.rejects(successor.ready, {
    code: 'FST_HOT_RESTART_SUCCESSOR_EXITED',
    message: `fastify-hot-restart: the successor (pid undefined) could not be started: its working directory ${gone} does not exist (the first generation's folder, re-resolved at each reload) before it was ready`
  })
})
