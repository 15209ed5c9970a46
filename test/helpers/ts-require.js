'use strict'
// tap's test processes load TypeScript through this hook (tap's config: node-arg), not through
// tap's TypeScript plugin (ts-node): a test file, its helpers and the lib/ modules it imports
// are run from the JavaScript that the `before` script (build-fixtures.js) compiled to .build/.
// ts-node loaded the compiler and compiled every file again in each of the ~75 test processes:
// about 1 s of CPU to load plus 1-2 s to compile, per file. A file whose .build/ output is
// missing or older than the source is compiled here, alone, as build-fixtures.js would.
// The module keeps its own path (its __dirname, its stack traces, coverage of lib/*.ts): the
// source map goes inline, naming the .ts file beside it.
// the processes the tests start get processinfo by `--require`, not by its loader thread
require('./child-hooks.js')
const { readFileSync, statSync } = require('node:fs')
const { basename, join, relative, resolve } = require('node:path')

const root = resolve(__dirname, '..', '..')
const out = join(root, '.build')
const mtime = (file) => { try { return statSync(file).mtimeMs } catch { return -1 } }

let compile
/** `file` compiled with the project's compiler options: [JavaScript, source map JSON]. */
function transpile (file) {
  compile ??= require('./build-fixtures.js').transpile
  return compile(file)
}

function load (module, filename) {
  const rel = relative(root, filename)
  const js = join(out, rel.replace(/\.ts$/, '.js'))
  let code, map
  if (!rel.startsWith('..') && mtime(js) >= mtime(filename)) {
    code = readFileSync(js, 'utf8')
    map = JSON.parse(readFileSync(`${js}.map`, 'utf8'))
  } else {
    [code, map] = transpile(filename)
  }
  map.sources = [basename(filename)]
  map.sourceRoot = ''
  const inline = Buffer.from(JSON.stringify(map)).toString('base64')
  code = code.replace(/\/\/# sourceMappingURL=\S+\s*$/, '') + `\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,${inline}\n`
  module._compile(code, filename)
}

// eslint-disable-next-line n/no-deprecated-api -- the one way to give require() a loader for an extension (ts-node does the same)
require.extensions['.ts'] = load
