// The bench end to end, small: fastify-hot-restart and naive restart under W2 (a new connection
// per request at 100 req/s: a bounded load, so that the tests that run beside this one keep
// their CPU) with 3 reloads. Ours must fail no request; naive restart must fail some (the
// harness sees failures).
//
// The bench runs as its own process without tap's coverage: it is a harness, not the
// library, and its orchestration (subjects, pm2, the load loops) is checked here by what it
// measures. Its pure parts (classify, stats, windows, summary, svg, timeline) are covered by
// their unit tests. It runs in its own process group, and the teardown kills that group, so
// that nothing it started outlives the test, even when it fails.
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import t, { type Test } from 'tap'
import { alive } from '../helpers/proc'

// tap's own switch (@tapjs/processinfo): no coverage from this process and its descendants
const NO_COVERAGE = { _TAPJS_PROCESSINFO_COVERAGE_: '0' }

/**
 * Runs a bench script (its own process group, no coverage) with `--out` a temp folder; the
 * teardown kills the group and removes the folder.
 */
async function runBench (t: Test, script: string, args: string[]): Promise<{ code: number | null, stdout: string, stderr: string, out: string }> {
  const out = mkdtempSync(join(tmpdir(), 'fhr-bench-test-'))
  const bench = spawn(process.execPath, [resolve(__dirname, '..', '..', 'bench', script), ...args, '--out', out], {
    env: { ...process.env, ...NO_COVERAGE },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true
  })
  let exited = false
  bench.once('exit', () => { exited = true })
  t.teardown(() => {
    if (!exited) try { process.kill(-bench.pid!, 'SIGKILL') } catch {}
    rmSync(out, { recursive: true, force: true })
  })
  let stdout = ''
  let stderr = ''
  bench.stdout!.setEncoding('utf8').on('data', (c: string) => { stdout += c })
  bench.stderr!.setEncoding('utf8').on('data', (c: string) => { stderr += c })
  const [code] = await once(bench, 'exit')
  return { code, stdout, stderr, out }
}

// the two benches are independent and mostly wait (timed load windows, reloads): side by side
t.jobs = 2

t.test('a tiny bench: 0 failed requests for fastify-hot-restart, some for naive restart', async t => {
  const { code, stdout, stderr, out } = await runBench(t, 'bench.js', ['--quick', '--subjects', 'hot,naive', '--workloads', 'W2',
    // 100 req/s, not 400: an open loop above what a loaded machine serves within the client's
    // 10 s timeout fails requests whatever the server does (seen at load average 15)
    '--rate', '100', '--reloads', '3', '--steady-ms', '0', '--no-extras', '--limit-ms', '90000'])
  t.comment(stderr.trim())
  // the output shows only if the assertion fails
  t.equal(code, 0, 'the bench exits 0', { stdout, stderr })

  const files = readdirSync(out)
  const json = files.find(f => f.endsWith('-quick.json'))!
  t.ok(json, 'the results JSON is written')
  t.same(files.filter(f => f.endsWith('.svg')).map(f => f.replace(/^.*-quick-/, '')).sort(),
    ['fastify-hot-restart.svg', 'naive-restart.svg'], 'an SVG timeline per subject')
  const results = JSON.parse(readFileSync(join(out, json), 'utf8'))
  const run = (subject: string) => results.runs.find((r: { subject: string }) => r.subject === subject)
  const ours = run('fastify-hot-restart')
  const naive = run('naive restart')
  t.equal(ours.reloads, 3)
  t.equal(ours.failed, 0, `fastify-hot-restart: no failed request in ${ours.requests} (${ours.inWindows} in reload windows)`)
  t.ok(ours.inWindows > 300, `requests ran through the reloads (${ours.inWindows})`)
  t.equal(naive.reloads, 3)
  t.ok(naive.failed > 0, `naive restart: ${naive.failed} failed requests ${JSON.stringify(naive.failures)}`)
  t.ok(naive.failures.ECONNREFUSED > 0, 'refused while nothing listened')
  t.match(stdout, /\| fastify-hot-restart \| W2 \| 3 \|/, 'the table')
  // measured inside the processes: the predecessor's CPU and longest stall, the successor's
  for (const key of ['predecessorCpuMs', 'predecessorStallMs', 'predecessorBootStallMs', 'successorStallMs']) {
    t.ok(ours[key].max >= ours[key].p50 && ours[key].p50 >= 0, `${key}: p50 ${ours[key].p50}, max ${ours[key].max}`)
  }
  t.equal(naive.predecessorCpuMs, undefined, 'naive restart measures none')
  t.match(stdout, /What a reload costs the processes[^]*\| fastify-hot-restart \| W2 \|/, 'the table of what a reload costs')
  const pids: number[] = results.runs.flatMap((r: { generations: Array<{ pid: number }> }) => r.generations.map(g => g.pid))
  t.ok(pids.length >= 8, 'every generation was sampled')
  t.same(pids.filter(alive), [], 'no app process is left')
})

t.test('bench:workers, tiny: run --workers 2 and node:cluster measured side by side; reloads of the 2 workers fail no request', async t => {
  const { code, stdout, stderr, out } = await runBench(t, 'workers.js', ['--subjects', 'hot2,cluster', '--rounds', '1', '--ms', '500', '--reloads', '2'])
  t.equal(code, 0, 'the bench exits 0', { stdout, stderr })
  const json = readdirSync(out).find(f => f.endsWith('-workers.json'))!
  t.ok(json, 'the results JSON is written')
  const results = JSON.parse(readFileSync(join(out, json), 'utf8'))
  for (const load of ['keep-alive', 'new connection per request']) {
    for (const subject of ['fastify-hot-restart run --workers 2', 'node:cluster, 2 workers']) {
      const measured = results.throughput[load][subject]
      t.ok(measured.rps[0] > 0, `${subject}, ${load}: ${measured.rps[0]} req/s`)
      t.equal(measured.failed, 0)
    }
  }
  t.equal(results.reloads.reloads, 2)
  t.ok(results.reloads.requests > 100, `requests ran through the reloads (${results.reloads.requests})`)
  t.equal(results.reloads.failed, 0, 'no request failed during the reloads')
  t.match(stdout, /\| node:cluster, 2 workers \| \d+/, 'the table')
})

t.test('bench/tls-resume.js, tiny: full handshakes do not resume, the ones offering a session ticket all do', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'fhr-tls-resume-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-subj', '/CN=localhost', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
  const script = resolve(__dirname, '..', '..', 'bench', 'tls-resume.js')
  const out = execFileSync(process.execPath, [script, '--key', join(dir, 'key.pem'), '--cert', join(dir, 'cert.pem'), '--connections', '20'],
    { env: { ...process.env, ...NO_COVERAGE }, encoding: 'utf8', timeout: 150000 })
  t.comment(out.trim())
  t.match(out, /\| TLSv1\.3 \| full handshake \| [\d.]+ \/ [\d.]+ ms \| [\d.]+ ms \| 0 of 20 \|/)
  t.match(out, /\| TLSv1\.3 \| resumed \(session ticket\) \| [\d.]+ \/ [\d.]+ ms \| [\d.]+ ms \| 20 of 20 \|/)
})
