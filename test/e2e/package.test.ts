// The packed package as consumers use it: `npm pack`, installed into a scratch project from
// the tarball, then required from CommonJS, imported from native ESM, compiled by TypeScript
// under every moduleResolution and run, and checked by arethetypeswrong and publint.
// Offline: the package's dependencies come from npm's cache (`npm ci` put them there);
// fastify and @types/node are links to this repo's node_modules.
import { execFile } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import t from 'tap'

// about 40 s of CPU (four tsc runs take most of it): generous room on a loaded machine
t.setTimeout(360_000)

const root = resolve(__dirname, '..', '..')
const sources = join(root, 'test', 'package')

interface Run { code: number | null, out: string, err: string }

function run (args: string[], cwd: string, file = process.execPath): Promise<Run> {
  return new Promise(resolve => {
    // NODE_OPTIONS cleared: tap's loader and coverage are for this repo, not for the consumer
    execFile(file, args, { cwd, timeout: 240_000, killSignal: 'SIGKILL', env: { ...process.env, NODE_OPTIONS: '' } }, (error, out, err) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, out, err })
    })
  })
}
// the npm that runs `npm test`, else the one on PATH
const npm = (args: string[], cwd: string): Promise<Run> => process.env.npm_execpath?.endsWith('.js') === true
  ? run([process.env.npm_execpath, ...args], cwd)
  : run(args, cwd, 'npm')
const bin = (path: string): string => join(root, 'node_modules', path)

// what the built modules export: each entry point must give all of it, in every module setup
const exported = (name: string): string[] => [...new Set([...Object.keys(require(join(root, 'dist', name))), 'default'])].sort()

const dir = mkdtempSync(join(tmpdir(), 'fhr-package-'))
if (process.env.KEEP_PACKAGE_TEST === undefined) t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const app = join(dir, 'app')
let tarball = ''

t.before(async () => {
  if (!existsSync(join(root, 'dist', 'entry', 'index.js'))) throw new Error('test/e2e/package.test.ts tests the build: run `npm run build` first (npm test does)')
  const packed = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], root)
  if (packed.code !== 0) throw new Error(`npm pack failed: ${packed.err}`)
  tarball = join(dir, JSON.parse(packed.out)[0].filename)
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }))
  const installed = await npm(['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], app)
  if (installed.code !== 0) throw new Error(`npm install --offline of the tarball failed (run npm ci first, it fills npm's cache): ${installed.err}`)
})

// attw and publint read only the tarball: they run beside the consumers, which go in order (the
// first checks that fastify is not installed, the second links it for the TypeScript ones)
t.jobs = 2

t.test('consumers of the installed tarball, in order', async t => {
  t.test('an install does not pull in fastify (an optional peer); the node:http adapter and the CLI run without it', async t => {
    t.notOk(existsSync(join(app, 'node_modules', 'fastify')), 'fastify is not installed')
    const adapter = await run(['-e', 'const hr = require("fastify-hot-restart/node"); process.stdout.write(typeof hr)'], app)
    t.same(adapter, { code: 0, out: 'function', err: '' })
    const cli = await run([join(app, 'node_modules', '.bin', 'fastify-hot-restart'), '--help'], app)
    t.equal(cli.code, 0, cli.err)
    t.match(cli.out, /Usage:/)
  })

  t.test('CommonJS and native ESM consumers: every export of both entry points, the plugin on fastify, the adapter on node:http', async t => {
    for (const name of ['fastify', '@types']) symlinkSync(bin(name), join(app, 'node_modules', name))
    for (const file of ['exercise.cjs', 'runtime.cjs', 'runtime.mjs']) copyFileSync(join(sources, file), join(app, file))
    const want = { plugin: exported('index.js'), node: exported('node.js') }
    for (const result of await Promise.all([run(['runtime.cjs'], app), run(['runtime.mjs'], app)])) {
      t.equal(result.code, 0, result.err)
      t.same(result.out === '' ? undefined : JSON.parse(result.out), want)
    }
  })

  // moduleResolution, module, the consumer's package type, the files, whether the output runs
  const setups: Array<[string, string, 'commonjs' | 'module', string[], boolean]> = [
    ['node10', 'commonjs', 'commonjs', ['consumer.ts', 'consumer-require.ts'], true],
    ['node16', 'node16', 'commonjs', ['consumer.ts', 'consumer-require.ts'], true],
    ['nodenext', 'nodenext', 'module', ['consumer.ts'], true],
    ['bundler', 'esnext', 'module', ['consumer.ts'], false]
  ]

  t.test('TypeScript consumers compile under node10, node16 (CommonJS), nodenext (ESM) and bundler, and run', async t => {
    await Promise.all(setups.map(async ([resolution, module, type, files, runs]) => {
      const project = join(app, resolution)
      mkdirSync(project)
      for (const file of files) copyFileSync(join(sources, file), join(project, file))
      writeFileSync(join(project, 'package.json'), JSON.stringify({ type }))
      // one setup checks the package's .d.ts files too (and fastify's: slow), the others skip them
      const compilerOptions = { module, moduleResolution: resolution, target: 'ES2022', strict: true, esModuleInterop: true, skipLibCheck: resolution !== 'node16', types: ['node'], outDir: 'out', noEmit: !runs }
      writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, files }))
      const compiled = await run([bin('typescript/bin/tsc'), '-p', project], project)
      t.equal(compiled.code, 0, `${resolution}: tsc\n${compiled.out}${compiled.err}`)
      if (!runs || compiled.code !== 0) return
      const result = await run([join(project, 'out', 'consumer.js')], project)
      t.same(result, { code: 0, out: 'typescript consumer: ok function function\n', err: '' }, `${resolution}: the compiled consumer runs`)
    }))
  })
})

t.test('arethetypeswrong and publint find no problem in the tarball', async t => {
  const [attw, publint] = await Promise.all([
    run([bin('@arethetypeswrong/cli/dist/index.js'), '--format', 'table-flipped', '--no-color', tarball], dir),
    run([bin('publint/src/cli.js'), 'run', '--strict', tarball], dir)
  ])
  t.equal(attw.code, 0, `attw:\n${attw.out}${attw.err}`)
  t.match(attw.out, /No problems found/)
  t.equal(publint.code, 0, `publint:\n${publint.out}${publint.err}`)
  t.match(publint.out, /All good/)
})
