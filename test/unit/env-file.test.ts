// `run --env-file` in-process: the parser (lib/env-file.ts) reads what Node's own parser reads
// the same way and refuses, naming the line, what Node 20 guesses at; the file is read for each
// generation (start, reload, crash restart) and its values reach that generation's workers only,
// through the process seam (fake workers, test/helpers/fake-process.ts). With real processes:
// test/e2e/env-file.test.ts.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as util from 'node:util'
import t from 'tap'
import { ENV_FILE_LIMIT, parseEnvText, readEnvFile, workerEnv } from '../../lib/env-file'
import { Supervisor } from '../../lib/supervisor'
import type { Logger } from '../../lib/upgrader'
import { tempDir } from '../helpers/app'
import { fakeSpawn, type FakeChild } from '../helpers/fake-process'

/** Files both parsers read, and what they mean. */
const VALID: Array<[string, Record<string, string>]> = [
  ['A=1', { A: '1' }],
  ['', {}],
  ['# a comment\n\nA=1\n', { A: '1' }],
  ['export B=2', { B: '2' }],
  [' C = 3 ', { C: '3' }],
  ['D="a\\nb"', { D: 'a\nb' }],
  ["E='a\\nb'", { E: 'a\\nb' }],
  ['F=`x`', { F: 'x' }],
  ['G=a # comment', { G: 'a' }],
  ['H="a # b" # comment', { H: 'a # b' }],
  ['I="multi\nline"\nJ=2', { I: 'multi\nline', J: '2' }],
  ["I='multi\nline'", { I: 'multi\nline' }],
  ['L==x', { L: '=x' }],
  ['M=', { M: '' }],
  ['M= # empty', { M: '' }],
  ['N=a b  ', { N: 'a b' }],
  ['O=a"b"', { O: 'a"b"' }],
  ['V=${A}', { V: '${A}' }], // eslint-disable-line no-template-curly-in-string
  ['Z=1\nZ=2', { Z: '2' }],
  ['A="x"  # comment\nB=2', { A: 'x', B: '2' }],
  ['A=  "x"', { A: 'x' }],
  ["A=' x '", { A: ' x ' }],
  ['A=1\r\nB="2\r\n3"\r\n', { A: '1', B: '2\n3' }],
  ['export=1', { export: '1' }],
  ['_x9=é', { _x9: 'é' }],
  ['A=""\nB=\'\'', { A: '', B: '' }]
]

t.test('a valid file means what it means to Node\'s own parser (util.parseEnv)', async t => {
  const nodeParse = (util as { parseEnv?: (text: string) => Record<string, string> }).parseEnv
  for (const [text, expected] of VALID) {
    const parsed = parseEnvText(text)
    t.same(parsed, { values: expected }, JSON.stringify(text))
    if (nodeParse !== undefined) t.same(nodeParse(text), expected, `Node: ${JSON.stringify(text)}`)
  }
  const parsed = parseEnvText('__proto__=x\nconstructor=y')
  t.same(Object.entries((parsed as { values: object }).values), [['__proto__', 'x'], ['constructor', 'y']], 'names of Object.prototype are plain names')
})

t.test('what Node 20 guesses at is refused, with the line and why', async t => {
  const cases: Array<[string, number, RegExp]> = [
    ['A=1\nJUST_A_NAME\nB=2', 2, /^expected NAME=value$/],
    ['=x', 1, /^"" is not a variable name/],
    ['1T=1', 1, /^"1T" is not a variable name \(letters, digits and _, not starting with a digit\)$/],
    ['a b=1', 1, /"a b" is not a variable name/],
    ['P.Q=1', 1, /"P\.Q" is not a variable name/],
    ['\tA=1', 1, /"\\tA" is not a variable name/],
    ['export  A=1', 1, /" A" is not a variable name/],
    ['A=1\n\nK="never closed\nB=2', 3, /^the value of K opens a " quote that is never closed$/],
    ["A='x'y", 1, /^text after the closing ' quote of A \(only a # comment may follow it\)$/],
    ['U="a\\"b"', 1, /text after the closing " quote of U/],
    ['A="multi\nline" junk', 2, /text after the closing " quote of A/],
    ['PASSWORD=abc#123', 1, /^the value of PASSWORD has a # that would end it \(a comment starts with " #"\): quote the value$/],
    ['COLOR=#fff', 1, /the value of COLOR has a #/],
    ['A=x\0y', 1, /^the value of A has a NUL byte/]
  ]
  for (const [text, line, why] of cases) {
    const parsed = parseEnvText(text)
    t.match(parsed, { line, why }, JSON.stringify(text))
  }
  t.same(parseEnvText('A=1\n  # an indented comment\n   \nB=2'), { values: { A: '1', B: '2' } }, 'an indented comment and a line of spaces are skipped (Node 20 takes them into the next name)')
})

t.test('readEnvFile: the values; or FST_HOT_RESTART_ENV_FILE naming the file, and the line', async t => {
  const dir = tempDir('fhr-env-')
  const file = join(dir, 'app.env')
  writeFileSync(file, 'A=1\n# x\nB="two words"\n')
  t.same({ ...readEnvFile(file) }, { A: '1', B: 'two words' })
  writeFileSync(file, 'A=1\nB=x#y\n')
  t.throws(() => readEnvFile(file), {
    code: 'FST_HOT_RESTART_ENV_FILE',
    message: `fastify-hot-restart: cannot use the environment file ${file}: line 2: the value of B has a # that would end it (a comment starts with " #"): quote the value`
  })
  const missing = join(dir, 'missing.env')
  t.throws(() => readEnvFile(missing), { code: 'FST_HOT_RESTART_ENV_FILE', message: `fastify-hot-restart: cannot use the environment file ${missing}: cannot read it (ENOENT)`, cause: { code: 'ENOENT' } })
  const folder = join(dir, 'folder.env')
  mkdirSync(folder)
  t.throws(() => readEnvFile(folder), { message: `fastify-hot-restart: cannot use the environment file ${folder}: it is a folder, not a regular file` })
  writeFileSync(file, `A=${'x'.repeat(ENV_FILE_LIMIT)}\n`)
  t.throws(() => readEnvFile(file), { message: new RegExp(`environment file ${file}: it is ${ENV_FILE_LIMIT + 3} bytes, more than ${ENV_FILE_LIMIT}$`) })
})

t.test('workerEnv: the supervisor\'s environment, with the file\'s values laid over it', async t => {
  t.equal(workerEnv(undefined), process.env)
  const file = join(tempDir('fhr-env-'), 'app.env')
  writeFileSync(file, 'PATH=/from/the/file\nFHR_ONLY_IN_FILE=1\n')
  const env = workerEnv(file)
  t.equal(env.PATH, '/from/the/file')
  t.equal(env.FHR_ONLY_IN_FILE, '1')
  t.equal(env.HOME, process.env.HOME, 'the rest is the supervisor\'s')
  t.equal(process.env.FHR_ONLY_IN_FILE, undefined, 'the supervisor\'s own environment is unchanged')
})

function logger (): Logger & { events: Array<Record<string, unknown>> } {
  const events: Array<Record<string, unknown>> = []
  const at = () => (obj: object) => { events.push(obj as Record<string, unknown>) }
  return { events, info: at(), warn: at(), error: at() }
}

/** A supervisor of `workers` fake workers with `--env-file file`. */
function supervised (file: string, workers = 1) {
  const log = logger()
  const fake = fakeSpawn()
  const s = new Supervisor({ command: 'app', args: [], cwd: process.cwd(), pidFile: undefined, readyTimeout: 10_000, maxRestarts: 10, workers, envFile: file, log, spawn: fake.spawn })
  const worker = async (): Promise<FakeChild> => {
    const child = await fake.next()
    child.onMessage = (message) => { if (message.hotRestart === 'drain' || message.hotRestart === 'shutdown') child.exit(0) }
    return child
  }
  return { s, log, fake, worker }
}

t.test('the file is read for generation 1, each reload and each crash restart; a wrong one fails that start and changes nothing', async t => {
  const file = join(tempDir('fhr-env-'), 'app.env')
  writeFileSync(file, 'RELEASE=1\nFASTIFY_HOT_RESTART_SUPERVISOR=1\nNOTIFY_SOCKET=/x\n')
  const { s, log, fake, worker } = supervised(file, 2)
  const starting = s.start()
  const gen1: FakeChild[] = []
  // the first worker binds alone; the second starts once it is ready
  for (let i = 0; i < 2; i++) {
    gen1.push(await worker())
    gen1[i]!.ready()
  }
  await starting
  t.same(gen1.map(w => w.env.RELEASE), ['1', '1'], 'generation 1: every worker has the file\'s value')
  t.equal(gen1[0]!.env.FASTIFY_HOT_RESTART_SUPERVISOR, String(process.pid), 'the protocol\'s variables are the supervisor\'s, whatever the file says')
  t.equal(gen1[0]!.env.NOTIFY_SOCKET, undefined)

  writeFileSync(file, 'RELEASE=2\n')
  const reloading = s.reload('SIGHUP')
  const gen2: FakeChild[] = []
  for (let i = 0; i < 2; i++) {
    gen2.push(await worker())
    gen2[i]!.ready()
  }
  await reloading
  t.same(gen2.map(w => w.env.RELEASE), ['2', '2'], 'a reload reads it again')

  // a crash restart reads it too; a wrong file fails the restart, which backs off and retries
  writeFileSync(file, 'RELEASE="3\n')
  gen2[0]!.exit(1)
  const failed = await until(() => log.events.find(e => e.event === 'supervisor.restart.failed'))
  t.equal(failed.code, 'FST_HOT_RESTART_ENV_FILE')
  t.equal(fake.children.length, 4, 'nothing was spawned')
  writeFileSync(file, 'RELEASE=3\n')
  const restarted = await worker()
  t.equal(restarted.env.RELEASE, '3')
  restarted.ready()
  await until(() => log.events.find(e => e.event === 'supervisor.restarted'))

  const spawned = fake.children.length
  writeFileSync(file, 'RELEASE=4\nbroken\n')
  await t.rejects(s.reload('SIGHUP'), { code: 'FST_HOT_RESTART_ENV_FILE', message: `fastify-hot-restart: cannot use the environment file ${file}: line 2: expected NAME=value` })
  t.equal(fake.children.length, spawned, 'a wrong file starts nothing')
  t.equal(s.state, 'serving')
  t.match(log.events.find(e => e.event === 'supervisor.reload.failed'), { code: 'FST_HOT_RESTART_ENV_FILE', generation: 5 })
  t.ok(!gen2[1]!.exited && !restarted.exited, 'the serving workers serve on')
  await s.stop()
  t.equal(await s.done, 0)
})

t.test('generation 1 with a wrong file does not start', async t => {
  const file = join(tempDir('fhr-env-'), 'missing.env')
  const { s, fake } = supervised(file)
  await t.rejects(s.start(), { code: 'FST_HOT_RESTART_ENV_FILE' })
  t.equal(fake.children.length, 0)
})

/** Resolves with what `check` returns once it returns something (checked each turn, bounded). */
async function until<T> (check: () => T | undefined): Promise<T> {
  for (let i = 0; i < 10_000; i++) {
    const value = check()
    if (value !== undefined) return value
    await new Promise(resolve => setTimeout(resolve, 1))
  }
  throw new Error('never happened')
}
