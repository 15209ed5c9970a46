'use strict'
// How long `child_process.spawn()` blocks the event loop of the process that calls it, by that
// process's memory. A standalone predecessor spawns its successor itself, so this is a pause
// of the server that still serves, once per reload (under `run` the supervisor spawns).
// Node starts a child with fork(), which copies the parent's page tables, then waits until the
// child has exec'd: the bigger the parent, the longer.
//
//   node bench/spawn-stall.js [--sizes 0,60,200,340] [--spawns 20]
//
// Each size (MiB of buffers held on top of Node's own) is measured in a process of its own,
// spawning `node -e 0` that many times one after the other. Prints a Markdown table.
const { spawn, execFileSync } = require('node:child_process')
const { parseArgs } = require('node:util')

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '0,60,200,340' },
    spawns: { type: 'string', default: '20' },
    measure: { type: 'string' }
  }
})

/** In the measuring process: hold `mib` MiB, spawn `count` times; prints { rssMiB, p50, max } as JSON. */
async function measure (mib, count) {
  const held = []
  for (let i = 0; i < mib; i++) held.push(Buffer.alloc(1 << 20, 1))
  const times = []
  for (let i = 0; i < count; i++) {
    const started = performance.now()
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' })
    times.push(performance.now() - started)
    await new Promise(resolve => child.once('exit', resolve))
  }
  times.sort((a, b) => a - b)
  const rssMiB = Math.round(process.memoryUsage().rss / 1048576)
  process.stdout.write(JSON.stringify({ rssMiB, held: held.length, p50: times[Math.floor(count / 2)], max: times[count - 1] }))
}

if (args.measure !== undefined) {
  measure(Number(args.measure), Number(args.spawns)).catch(err => { console.error(err); process.exitCode = 1 })
} else {
  const sizes = args.sizes.split(',').map(Number)
  const count = Number(args.spawns)
  if (sizes.some(s => !Number.isInteger(s) || s < 0 || s > 4096)) throw new Error(`--sizes: expected MiB from 0 to 4096, comma-separated, got ${args.sizes}`)
  if (!Number.isInteger(count) || count < 1 || count > 1000) throw new Error(`--spawns: expected an integer from 1 to 1000, got ${args.spawns}`)
  console.log(`Node ${process.version}, ${count} spawns per size\n`)
  console.log('| RSS of the spawning process | spawn() blocks its event loop, p50 / max |')
  console.log('| ---: | ---: |')
  for (const mib of sizes) {
    const out = execFileSync(process.execPath, [__filename, '--measure', String(mib), '--spawns', String(count)], { encoding: 'utf8', timeout: 120000 })
    const r = JSON.parse(out)
    console.log(`| ${r.rssMiB} MiB | ${r.p50.toFixed(1)} / ${r.max.toFixed(1)} ms |`)
  }
}
