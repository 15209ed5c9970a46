'use strict'
// tap's `before` script: compiles lib/ and test/fixtures/ to .build/ (JavaScript with source
// maps), the programs the tests spawn. A spawned process then starts in plain node, not through
// tap's TypeScript loader (measured: about 3 s of each boot idle, over 10 s at load average 15),
// and its coverage is mapped back to lib/*.ts through the source maps.
// tsc runs only when a source is newer than its output (starting tsc costs seconds by itself).
const { execFileSync } = require('node:child_process')
const { readdirSync, statSync } = require('node:fs')
const { join, resolve } = require('node:path')

const root = resolve(__dirname, '..', '..')
const out = join(root, '.build')

const mtime = (file) => { try { return statSync(file).mtimeMs } catch { return -1 } }

function stale (dir) {
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (stale(path)) return true
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
      if (mtime(join(root, path)) > mtime(join(out, path.replace(/\.ts$/, '.js')))) return true
    }
  }
  return false
}

if (stale('lib') || stale(join('test', 'fixtures')) || mtime(join(root, 'tsconfig.fixtures.json')) > mtime(join(out, 'fixtures.tsbuildinfo'))) {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.fixtures.json')], { stdio: 'inherit' })
}
