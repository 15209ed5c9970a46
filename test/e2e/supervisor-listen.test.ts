// `run --listen` with real processes: the supervisor binds the address before generation 1
// starts, and every generation serves that socket (TCP under load, and a unix socket path); a
// first generation that listens elsewhere, an address that cannot be bound, and bad syntax stop
// the supervisor with a message.
import { existsSync, statSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { EXIT, main } from '../../lib/cli'
import { run } from '../../lib/run'
import type { Logger } from '../../lib/upgrader'
import { request } from '../helpers/http'
import { PACE, startLoad } from '../helpers/load'
import { exitLine } from '../helpers/log-lines'
import { portOf, predecessorGone, servingPid, startSupervisor, type Supervised } from '../helpers/supervisor'
import { alive } from '../helpers/proc'
import { tempDir } from '../helpers/app'

async function cli (...argv: string[]): Promise<{ code: number, out: string, err: string }> {
  let out = ''
  let err = ''
  const code = await main(argv, { out: { write: (s: string) => { out += s } }, err: { write: (s: string) => { err += s } } })
  return { code, out, err }
}

function logger (): Logger & { lines: Array<{ obj: Record<string, unknown>, msg: string }> } {
  const lines: Array<{ obj: Record<string, unknown>, msg: string }> = []
  const at = (obj: object, msg: string): void => { lines.push({ obj: obj as Record<string, unknown>, msg }) }
  return { lines, info: at, warn: at, error: at }
}

/** The address the supervisor bound, from its log line. */
async function bound (s: Supervised): Promise<string> {
  return (await s.waitFor(l => l.event === 'supervisor.bound', 'the bound line')).address as string
}

/** One GET / over a unix socket: the body. */
function getOverPath (socketPath: string): Promise<{ pid: number, generation: number }> {
  return new Promise((resolve, reject) => {
    http.get({ socketPath, path: '/', agent: false }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', c => { body += c })
      res.on('end', () => resolve(JSON.parse(body)))
    }).on('error', reject)
  })
}

t.test('--listen 127.0.0.1:0: the app serves the socket that the supervisor bound, across a reload under load', async t => {
  const s = await startSupervisor({ env: { QUIET: '1', HOST: '127.0.0.1', PORT: '0' }, args: ['--listen', '127.0.0.1:0'] })
  t.teardown(() => s.kill())
  const address = await bound(s)
  const m = /^127\.0\.0\.1:(\d+)$/.exec(address)
  t.ok(m, `bound ${address}`)
  const port = Number(m![1])
  t.equal(await portOf(s), port, 'generation 1 listens on the port the supervisor bound')
  const gen1 = servingPid(s)
  t.match(s.lines.find(l => l.pid === gen1 && l.msg === 'hot-restart: serving an inherited socket'), { fd: 3, address }, 'on the socket it inherited')
  t.same((await request(port, '/')).body, { pid: gen1, generation: 1 })

  const load = startLoad(port, { keepAlive: 10, fresh: 2, interval: PACE })
  t.teardown(() => load.stop())
  const r = await cli('reload', '--pid-file', s.pidFile)
  t.equal(r.code, EXIT.ok, r.err)
  const gen2 = Number(/\(pid (\d+)\)/.exec(r.out)?.[1])
  await predecessorGone(s, gen2)
  t.notOk(alive(gen1), 'generation 1 has exited')
  t.same((await request(port, '/')).body, { pid: gen2, generation: 2 }, 'generation 2 serves the same port')
  const outcome = await load.stop()
  t.comment(`--listen TCP: 1 reload, requests: ${outcome.ok + outcome.failed}, failed: ${outcome.failed} ${JSON.stringify(outcome.failures)}`)
  t.equal(outcome.failed, 0, 'no request failed')
  t.ok((outcome.byPid[gen1] ?? 0) > 0 && (outcome.byPid[gen2] ?? 0) > 0, 'both generations served')

  process.kill(s.proc.pid!, 'SIGTERM')
  t.equal(await s.ended, 0)
  await t.rejects(request(port, '/'), { code: 'ECONNREFUSED' }, 'the port is closed once the supervisor has stopped')
})

t.test('--listen <path>: the app serves the unix socket that the supervisor bound, across a reload; the path is removed at the stop', async t => {
  const path = join(tempDir('fhr-listen-'), 's.sock')
  const s = await startSupervisor({ env: { LISTEN_PATH: path }, args: ['--listen', path], serving: false })
  t.teardown(() => s.kill())
  t.equal(await bound(s), path)
  const inode = statSync(path).ino
  await s.waitFor(l => l.event === 'supervisor.serving', 'the supervisor to serve')
  const gen1 = servingPid(s)
  t.match(s.lines.find(l => l.pid === gen1 && l.msg === 'hot-restart: serving an inherited socket'), { fd: 3, address: path }, 'generation 1 serves the socket it inherited')
  t.same(await getOverPath(path), { pid: gen1, generation: 1 })

  process.kill(s.proc.pid!, 'SIGHUP')
  const gen2 = (await s.waitFor(l => l.event === 'supervisor.reload.ready', 'the reload')).servingPid as number
  await predecessorGone(s, gen2)
  t.same(await getOverPath(path), { pid: gen2, generation: 2 }, 'generation 2 serves the same path')
  t.equal(statSync(path).ino, inode, 'the socket the supervisor bound, never bound again')

  process.kill(s.proc.pid!, 'SIGTERM')
  t.equal(await s.ended, 0)
  t.notOk(existsSync(path), 'the path is removed')
})

t.test('--listen with an app that listens elsewhere: the start fails, exit 1 with the reason; no path is left', async t => {
  const dir = tempDir('fhr-listen-')
  const other = join(dir, 'other.sock')
  for (const listen of ['127.0.0.1:0', join(dir, 'listen.sock')]) {
    const s = await startSupervisor({ env: { LISTEN_PATH: other }, args: ['--listen', listen], serving: false })
    t.teardown(() => s.kill())
    const address = await bound(s)
    t.equal(await s.ended, 1, `--listen ${listen}: the supervisor exits 1`)
    const failed = s.lines.find(l => l.event === 'supervisor.start-failed')
    t.match(failed?.msg, `generation 1 does not listen on ${address} (--listen): it listens on ${other}; the app must listen on the same host and port (or path) as --listen`)
    const gen1 = s.lines.find(l => l.event === 'supervisor.worker-started')!.generationPid as number
    t.notOk(alive(gen1), 'generation 1 has been stopped')
    t.ok(s.lines.some(l => l.pid === gen1 && exitLine(l, 'shutdown')), 'gracefully')
    t.notOk(s.lines.some(l => l.event === 'supervisor.serving'), 'it never said serving')
    t.notOk(existsSync(other) || existsSync(join(dir, 'listen.sock')), 'neither path is left')
  }
})

t.test('--listen an address that cannot be bound: exit 1 with the errno', async t => {
  const dir = tempDir('fhr-listen-')
  const taken = net.createServer()
  await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { taken.close() })
  const { port } = taken.address() as net.AddressInfo
  const existing = join(dir, 'existing.sock')
  writeFileSync(existing, '')
  const cases: Array<[string[], string]> = [
    [['--listen', `127.0.0.1:${port}`], `--listen 127.0.0.1:${port}: cannot bind (EADDRINUSE)`],
    [['--listen', existing], `--listen ${existing}: cannot bind (EADDRINUSE): the path exists`],
    // every address (IPv6 and IPv4): the port is taken on 127.0.0.1
    [['--listen', String(port)], `--listen ${port}: cannot bind (EADDRINUSE)`],
    // an address of no interface here (TEST-NET-1): no packet is sent
    [['--listen', '192.0.2.1:0'], '--listen 192.0.2.1:0: cannot bind (EADDRNOTAVAIL)'],
    // the first one is bound, the second is not: the first is closed again
    [['--listen', '127.0.0.1:0', '--listen', `127.0.0.1:${port}`], `--listen 127.0.0.1:${port}: cannot bind (EADDRINUSE)`],
    // and its path is removed
    [['--listen', join(dir, 'ok.sock'), '--listen', join(dir, 'none', 's.sock')], `--listen ${join(dir, 'none', 's.sock')}: cannot bind (EACCES)`] // libuv's word for ENOENT
  ]
  for (const [args, message] of cases) {
    const log = logger()
    t.equal(await run([...args, '--', process.execPath, '-e', 'process.exit(3)'], { err: { write: () => {} } }, log), EXIT.failed, args.join(' '))
    t.match(log.lines.at(-1), { msg: `hot-restart supervisor: ${message}` })
    t.notOk(log.lines.some(l => l.obj.event === 'supervisor.starting'), 'no generation started')
  }
  t.equal(statSync(existing).size, 0, 'the existing path is left alone')
  t.notOk(existsSync(join(dir, 'ok.sock')), 'the path bound before the failure is removed')
})

t.test('--listen and --workers: bad values exit 2 and name the option', async t => {
  const cases: Array<[string[], RegExp]> = [
    [['--listen', 'foo:bar'], /--listen expects PORT, HOST:PORT .* got "foo:bar"/],
    [['--listen', '70000'], /--listen expects PORT, HOST:PORT .* got "70000"/],
    [['--listen', 'localhost:80'], /--listen expects .*HOST an IP address.* got "localhost:80"/],
    [['--listen', '[::1]:99999'], /--listen expects .* got "\[::1\]:99999"/],
    [['--workers', '0'], /--workers expects an integer from 1 to 256, got "0"/],
    [['--workers', '300'], /--workers expects an integer from 1 to 256, got "300"/],
    [['--workers=two'], /--workers expects an integer from 1 to 256, got "two"/]
  ]
  for (const [args, message] of cases) {
    const r = await cli('run', ...args, '--', 'node', 'app.js')
    t.equal(r.code, EXIT.usage, args.join(' '))
    t.match(r.err, message, args.join(' '))
    t.match(r.err, /Usage:\n {2}fastify-hot-restart run/)
  }
})
