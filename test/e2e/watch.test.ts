// `run --watch <path>` with real processes: a client polls the app while its file is saved
// three times: a change reloads it with no failed request; a broken save (a syntax error) changes
// nothing and the supervisor says why; the next good save takes over. A change under
// node_modules is not watched.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import t from 'tap'
import { tempDir } from '../helpers/app'
import { poll } from '../helpers/http'
import { on } from '../helpers/log-lines'
import { portOf, startSupervisor } from '../helpers/supervisor'

const plugin = resolve(__dirname, '..', '..', '.build', 'lib', 'index.js')
const app = (version: number): string => `'use strict'
const Fastify = require(${JSON.stringify(require.resolve('fastify'))})
const hotRestart = require(${JSON.stringify(plugin)})
const app = Fastify({ logger: true })
async function main () {
  await app.register(hotRestart)
  app.get('/', { logLevel: 'warn' }, async () => ({ version: ${version} }))
  await app.listen({ port: 0, host: '127.0.0.1' })
}
main()
`

t.test('run --watch: a save reloads with 0 failed requests; a broken save changes nothing and says why; the next save takes over', async t => {
  const dir = tempDir('fhr-watch-')
  const file = join(dir, 'app.js')
  writeFileSync(file, app(1))
  mkdirSync(join(dir, 'node_modules'))
  const s = await startSupervisor({ args: ['--watch', dir], command: [process.execPath, file] })
  t.teardown(() => s.kill())
  const port = await portOf(s)
  // the generations write to the supervisor's stderr: what node says of a broken file lands there
  let stderr = ''
  s.proc.stderr!.on('data', chunk => { stderr += String(chunk) })
  const clients = poll<{ version: number }>(port)
  t.teardown(() => clients.stop())
  /** Resolves once the clients see `version`. */
  const serves = async (version: number): Promise<void> => {
    t.ok(await clients.until(o => o.version === version), `version ${version} serves`)
  }
  await serves(1)

  let from = s.lines.length
  writeFileSync(join(dir, 'node_modules', 'ignored.js'), '// not watched\n')
  writeFileSync(file, app(2))
  const changed = await s.waitFor(on('supervisor.watch.changed'), 'the change', from, 30_000)
  t.same(changed.files, [file], 'the change under node_modules is not watched')
  await s.waitFor(on('supervisor.reload.ready'), 'the reload', from, 60_000)
  await serves(2)

  from = s.lines.length
  writeFileSync(file, `${app(3)}\nthis is not JavaScript (\n`)
  const failed = await s.waitFor(on('supervisor.reload.failed'), 'the broken save to fail', from, 60_000)
  t.match(failed.msg, /reload failed; still serving: .*the successor \(pid \d+\) exited with code 1 before it was ready/, 'the supervisor says the save did not boot')
  t.match(stderr, /SyntaxError/, 'and node\'s error for the file is printed')
  const after = await clients.next(5)
  t.ok(after.length >= 5 && after.every(o => o.version === 2), 'the last good generation serves on')

  from = s.lines.length
  writeFileSync(file, app(3))
  await s.waitFor(on('supervisor.reload.ready'), 'the fixed save to take over', from, 60_000)
  await serves(3)

  const outcomes = await clients.stop()
  t.same(outcomes.filter(o => o.error !== undefined), [], `0 failed of ${outcomes.length} requests across three saves`)
  s.proc.kill('SIGTERM')
  t.equal(await s.ended, 0)
})
