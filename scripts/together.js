'use strict'
// Runs the npm scripts named as arguments at the same time, prints the output of each once it
// has ended (so that their lines do not mix), and exits non-zero if any of them failed.
// `npm test` builds, type-checks and lints this way: each is a single process (tsc, tsc,
// eslint), and one after the other they took 28 s on a fresh clone of a 2-core machine.
const { spawn } = require('node:child_process')

const names = process.argv.slice(2)
if (names.length === 0) {
  console.error('usage: node scripts/together.js <npm script>...')
  process.exit(2)
}
// the npm that runs this (npm test), else the one on PATH
const npm = process.env.npm_execpath?.endsWith('.js') === true ? [process.execPath, process.env.npm_execpath] : ['npm']

/** Runs `npm run <name>`; resolves with its exit code once it has ended and its output is printed. */
function run (name) {
  return new Promise(resolve => {
    const started = performance.now()
    const child = spawn(npm[0], [...npm.slice(1), 'run', name], { stdio: ['ignore', 'pipe', 'pipe'] })
    const output = []
    child.stdout.on('data', chunk => output.push(chunk))
    child.stderr.on('data', chunk => output.push(chunk))
    child.on('error', err => output.push(Buffer.from(`${err.message}\n`)))
    child.on('close', (code, signal) => {
      const seconds = ((performance.now() - started) / 1000).toFixed(1)
      process.stdout.write(`> npm run ${name}: ${code === 0 ? 'ok' : `failed (${signal ?? `exit code ${code}`})`}, ${seconds} s\n`)
      process.stdout.write(Buffer.concat(output))
      resolve(code ?? 1)
    })
  })
}

Promise.all(names.map(run)).then(codes => {
  process.exitCode = codes.some(code => code !== 0) ? 1 : 0
})
