// The README's code blocks run as copied. Each JavaScript block is written to a file in a
// scratch app whose node_modules has this package (the repository itself, through its
// package.json exports: the built dist/, as installed) and the packages the examples use; it is
// started with node, must get ready and answer, survive a reload (SIGUSR2) and stop on SIGTERM
// with exit 0. The one change made to the blocks: fixed ports become 0 (tests use free ports).
// The shell block that makes the TLS example's certificate runs as copied too.
//
// Like the bench test, the examples run without tap's coverage: they exercise the built
// package, which the other tests cover from the sources.
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import { join, resolve } from 'node:path'
import t from 'tap'
import { killLogged, killOnExit } from '../helpers/app'
import { followLogs, type LogLine } from '../helpers/log-lines'

const ROOT = resolve(__dirname, '..', '..')
const README = readFileSync(join(ROOT, 'README.md'), 'utf8')
const NO_COVERAGE = { _TAPJS_PROCESSINFO_COVERAGE_: '0' }

interface Block { lang: string, code: string, line: number }

const blocks: Block[] = [...README.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map(m => ({
  lang: m[1] ?? '',
  code: m[2] ?? '',
  line: README.slice(0, m.index).split('\n').length
}))

/** A scratch app with this package and the examples' dependencies installed (as symlinks). */
function scratchApp (dir: string): void {
  mkdirSync(join(dir, 'node_modules'))
  symlinkSync(ROOT, join(dir, 'node_modules', 'fastify-hot-restart'))
  for (const dep of ['fastify', 'express']) symlinkSync(join(ROOT, 'node_modules', dep), join(dir, 'node_modules', dep))
}

const listeningPort = (line: LogLine): number | undefined => {
  const m = /^Server listening at https?:\/\/127\.0\.0\.1:(\d+)$/.exec(String(line.msg))
  if (m !== null) return Number(m[1])
  const address = line.address as { port?: number } | undefined
  return line.msg === 'hot-restart: listening' ? address?.port : undefined
}

function get (port: number, tls: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = tls ? https.get : http.get
    request({ host: '127.0.0.1', port, path: '/', rejectUnauthorized: false, agent: false }, res => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    }).on('error', reject)
  })
}

const js = blocks.filter(b => b.lang === 'js')

t.test('the README has runnable JavaScript examples', async t => {
  t.ok(js.length >= 5, `${js.length} JavaScript blocks`)
})

for (const block of js) {
  t.test(`README line ${block.line}: the example starts, answers, reloads and stops`, async t => {
    const dir = t.testdir()
    scratchApp(dir)
    const tls = block.code.includes('https:')
    if (tls) {
      // the README's own command for the test certificate, as copied
      const openssl = blocks.find(b => b.lang === 'sh' && b.code.startsWith('openssl req'))
      t.ok(openssl, 'the README says how to make the certificate')
      execFileSync('sh', ['-c', openssl!.code], { cwd: dir, stdio: 'ignore' })
    }
    const file = join(dir, /^import /m.test(block.code) ? 'server.mjs' : 'server.js')
    writeFileSync(file, block.code.replace(/\bport: \d+/g, 'port: 0'))
    const first = spawn(process.execPath, [file], { cwd: dir, env: { ...process.env, ...NO_COVERAGE }, stdio: ['ignore', 'pipe', 'pipe'] })
    killOnExit(first)
    const { lines, waitFor, closed } = followLogs([first.stdout!, first.stderr!])
    const exited = new Promise<number | null>(resolve => first.once('exit', code => resolve(code)))
    killOnExit(() => killLogged(lines))

    const ready = await waitFor(l => l.msg === 'hot-restart: ready', 'the example to be ready', 0, 60000)
    const port = listeningPort(await waitFor(l => listeningPort(l) !== undefined, 'the port'))!
    t.equal(await get(port, tls), 200, 'it answers')

    const from = lines.length
    process.kill(ready.pid, 'SIGUSR2')
    const successor = await waitFor(l => l.msg === 'hot-restart: ready' && l.pid !== ready.pid, 'the successor to be ready', from, 60000)
    t.equal(await exited, 0, 'the first generation hands over and exits 0')
    t.equal(await get(port, tls), 200, 'the successor answers on the same port')

    process.kill(successor.pid, 'SIGTERM')
    await closed
    t.ok(lines.some(l => l.pid === successor.pid && l.msg === 'hot-restart: shut down'), 'the successor shuts down gracefully')
    t.notOk(lines.some(l => Number(l.level) >= 50), 'nothing was logged as an error')
  })
}
