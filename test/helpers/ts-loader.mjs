// The ES module side of ts-require.js: a test file is the entry point, which Node loads as an
// ES module once any --import is given (tap gives some). A .ts file is CommonJS here (the
// package's "type"): the hook says so, and Node then loads it with require's hook.
import { register } from 'node:module'
import { isMainThread } from 'node:worker_threads'

export async function load (url, context, next) {
  if (url.startsWith('file:') && url.endsWith('.ts')) return { format: 'commonjs', shortCircuit: true }
  return next(url, context)
}

if (isMainThread) register(import.meta.url)
