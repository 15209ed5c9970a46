// Issue 10 item 1: the predecessor dies (SIGKILL, an OOM kill) while its successor boots. The
// successor is reparented (process.ppid no longer names the manifest's pid), yet it holds the
// inherited listening sockets: it must serve them, as the only server, not bind fresh and fail.
// Both when the predecessor dies after the library loaded and before.
import { once } from 'node:events'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { fixture, startApp } from '../helpers/app'
import { request } from '../helpers/http'

// a request that nobody accepts hangs (a handed-over socket that nothing serves): bounded
function within<T> (promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms) })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

const variants: Array<[string, string, string]> = [
  ['after the library loaded', 'app.ts', 'BOOT_FILE'],
  ['before the library loaded', 'late-load.ts', 'HOLD_FILE']
]

for (const [name, file, variable] of variants) {
  t.test(`the predecessor is killed while its successor boots (${name}): the successor serves`, async t => {
    const hold = join(process.env.TMPDIR ?? '/tmp', `fhr-orphan-${process.pid}-${file}`)
    const app = await startApp({ [variable]: hold }, fixture(file))
    t.teardown(() => { app.kill(); rmSync(hold, { force: true }) })
    const first = app.proc.pid as number
    writeFileSync(hold, 'hold')
    process.kill(first, 'SIGUSR2')
    const started = await app.waitFor(l => l.pid === first && l.msg === 'hot-restart: upgrade started', 'upgrade started')
    const successor = started.successorPid as number
    await app.waitFor(l => l.pid === successor && l.msg === 'boot: holding', 'the successor to hold')
    app.proc.kill('SIGKILL')
    await once(app.proc, 'exit')
    rmSync(hold)
    await app.waitFor(l => l.pid === successor && l.msg === 'hot-restart: ready', 'the orphaned successor to be ready', 0, 60000)
    t.ok(app.lines.some(l => l.pid === successor && l.msg === 'hot-restart: serving an inherited socket'), 'on the inherited socket')
    t.ok(app.lines.some(l => l.pid === successor && l.predecessorPid === first &&
      l.msg === 'hot-restart: the predecessor died while this process booted; serving its sockets alone'), 'saying why')
    t.notOk(app.lines.some(l => l.pid === successor && /ignoring a manifest|EADDRINUSE/.test(JSON.stringify(l))), 'no foreign manifest, no EADDRINUSE')
    for (let i = 0; i < 5; i++) {
      const res = await within(request(app.port, '/'), 10000)
      t.equal(res.status, 200)
      t.match(res.body, { pid: successor, generation: 2 }, 'the successor answers on the port')
    }
    t.equal(Number(readFileSync(app.pidFile, 'utf8').trim().split(/\s/)[0]), successor, 'the pid file names the successor')
    await app.stop(successor)
  })
}
