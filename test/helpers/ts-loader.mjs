// The ES module side of ts-require.js: a test file is the entry point, which Node loads as an
// ES module once any --import is given (tap gives some). A .ts file is CommonJS here (the
// package's "type"): the hook says so, and Node then loads it with require's hook.
import { register } from 'node:module'
import { isMainThread } from 'node:worker_threads'

export async function load (url, context, next) {
  if (url.startsWith('file:') && url.endsWith('.ts')) return { format: 'commonjs', shortCircuit: true }
  return next(url, context)
}

if (isMainThread) {
  register(import.meta.url)
  // tap's runner gives a test process the loaders of the plugins tap was BUILT with, and
  // rebuilds only for the test processes of the next run: the first run after the plugin list
  // changed (every fresh `npm ci`) also registers ts-node, which then compiled the JavaScript of
  // ts-require.js again, with a source map naming lib/x.ts but pointing at the compiled lines.
  // Merged with the fixtures' coverage, whole blocks of lib/ came out unrun. This file comes
  // after tap's loaders (tap's node-arg goes last): ts-node, if there, is switched off here.
  process[Symbol.for('ts-node.register.instance')]?.enabled(false)
}
