'use strict'
// `node bench/h2-reloads.js [--reloads 20] [--clients 10] [--streams 10]`: for each reload, h2load
// (Debian package nghttp2-client) loads an HTTP/2 app over TLS (Fastify with fastify-hot-restart,
// from dist/) for 3 s, and the app reloads 1 s in; prints the sums of h2load's counts. h2load does
// not retry a stream the server refused (REFUSED_STREAM, RFC 9113 8.7): each counts as failed.
// It does not open a new connection after a GOAWAY either (its clients stop, or, with -n, fail
// their remaining requests): hence one short run per reload. Bounded (every wait has a limit);
// loopback only; kills what it started by pid.
const { execFileSync, spawn } = require('node:child_process')
const { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs')
const os = require('node:os')
const { join, resolve } = require('node:path')
const { parseArgs } = require('node:util')

const { values: args } = parseArgs({ options: { reloads: { type: 'string', default: '20' }, clients: { type: 'string', default: '10' }, streams: { type: 'string', default: '10' }, requests: { type: 'string', default: '30000' } } })
const RELOADS = Number(args.reloads)
const root = resolve(__dirname, '..')
const dir = mkdtempSync(join(os.tmpdir(), 'fhr-h2-'))
const pidFile = join(dir, 'app.pid')
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const alive = pid => { try { process.kill(pid, 0); return true } catch { return false } }
const started = new Set()

execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
  '-subj', '/CN=localhost', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
writeFileSync(join(dir, 'app.js'), `'use strict'
const { readFileSync } = require('node:fs')
const Fastify = require(${JSON.stringify(join(root, 'node_modules', 'fastify'))})
const hotRestart = require(${JSON.stringify(root)})
const app = Fastify({ http2: true, https: { key: readFileSync(${JSON.stringify(join(dir, 'key.pem'))}), cert: readFileSync(${JSON.stringify(join(dir, 'cert.pem'))}) } })
app.register(hotRestart, { pidFile: ${JSON.stringify(pidFile)}, closeWithGrace: false })
app.get('/', async () => ({ pid: process.pid }))
app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
`)

/** Waits until `check()` is true, at most `ms`; throws with `what` otherwise. */
async function until (check, what, ms = 60_000) {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

const readPid = () => existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0

async function main () {
  // a free port: h2load needs it on its command line
  const port = await new Promise(resolve => {
    const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) })
  })
  const first = spawn(process.execPath, [join(dir, 'app.js')], { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' })
  started.add(first.pid)
  await until(() => readPid() === first.pid, 'the app to be ready')
  const sums = { total: 0, succeeded: 0, failed: 0, errored: 0 }
  let pid = first.pid
  let reloads = 0
  for (; reloads < RELOADS; reloads++) {
    const h2load = spawn('h2load', ['-c', args.clients, '-m', args.streams, '-D', '3', `https://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'inherit'] })
    started.add(h2load.pid)
    let out = ''
    h2load.stdout.on('data', chunk => { out += chunk })
    const ended = new Promise(resolve => h2load.once('exit', resolve))
    const limit = setTimeout(() => h2load.kill(), 60_000)
    await sleep(1000)
    const old = pid
    process.kill(old, 'SIGUSR2')
    await until(() => readPid() !== old && readPid() !== 0, 'the successor to be ready')
    pid = readPid()
    started.add(pid)
    await until(() => !alive(old), 'the predecessor to exit')
    await ended
    clearTimeout(limit)
    const counts = /^requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/m.exec(out)
    if (counts === null) throw new Error(`h2load printed no counts: ${out}`)
    sums.total += Number(counts[1])
    sums.succeeded += Number(counts[2])
    sums.failed += Number(counts[3])
    sums.errored += Number(counts[4])
  }
  console.log(`reloads ${reloads} (each under h2load -c ${args.clients} -m ${args.streams} -D 3); load average ${os.loadavg().map(l => l.toFixed(2)).join(' ')}`)
  console.log(`requests ${sums.total}, succeeded ${sums.succeeded}, failed ${sums.failed} (errored ${sums.errored})`)
}

function cleanup () {
  for (const pid of started) if (alive(pid)) try { process.kill(pid, 'SIGKILL') } catch {}
  rmSync(dir, { recursive: true, force: true })
}

main().then(cleanup, err => { cleanup(); console.error(err); process.exitCode = 1 })
