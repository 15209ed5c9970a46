'use strict'
// tap runs every process with @tapjs/processinfo, which records the files each one loads and
// its coverage. On Node < 24.13 it does so through an ESM loader hook (`--import`, a thread of
// its own in every process: measured 0.27 s of CPU per boot of a test app, 0.57 s against 0.30 s
// without it), and the tests start about 500 processes (successors, workers, supervisors, CLIs).
// Those programs are CommonJS, which processinfo also tracks through require hooks (its path for
// Node < 20.6). So each process a test starts gets `--require` of child-coverage.js, which
// registers processinfo that way, instead of the `--import`: same records, same coverage.
//
// This wraps child_process's spawn (async and sync) innermost: processinfo's own wrapper
// (process-on-spawn, installed after this) adds its `--import` to NODE_OPTIONS first; this then
// puts child-coverage.js in its place. Required by ts-require.js (tap's test processes) and by
// child-coverage.js (their descendants), before processinfo registers.
const { join } = require('node:path')

const wrapped = Symbol.for('fastify-hot-restart.test.childHooks')
const preload = JSON.stringify(`--require=${join(__dirname, 'child-coverage.js')}`)
// processinfo's loader, as process-on-spawn writes it into NODE_OPTIONS (quoted or not)
const loader = /"?--(?:import|loader)=[^" ]*@tapjs[/\\]processinfo[/\\][^" ]*"?/g

/** `options.envPairs` with processinfo's loader in NODE_OPTIONS replaced by the preload. */
function rewrite (options) {
  if (!Array.isArray(options?.envPairs)) return
  options.envPairs = options.envPairs.map(pair => {
    if (!pair.startsWith('NODE_OPTIONS=') || !pair.includes('@tapjs')) return pair
    const rest = pair.slice('NODE_OPTIONS='.length).replace(loader, '').replace(preload, '').replace(/\s+/g, ' ').trim()
    return `NODE_OPTIONS=${rest === '' ? preload : `${rest} ${preload}`}`
  })
}

function wrap (fn) {
  return function (options) {
    rewrite(options)
    return fn.call(this, options)
  }
}

if (globalThis[wrapped] !== true) {
  globalThis[wrapped] = true
  const { ChildProcess } = require('node:child_process')
  ChildProcess.prototype.spawn = wrap(ChildProcess.prototype.spawn)
  // eslint-disable-next-line n/no-deprecated-api -- process-on-spawn wraps the same binding
  const sync = process.binding('spawn_sync')
  sync.spawn = wrap(sync.spawn)
}
