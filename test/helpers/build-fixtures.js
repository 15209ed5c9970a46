'use strict'
// tap's `before` script, and `npm test`'s step before tap (tap lists the files its
// `coverage-exclude` globs match as it starts, before the `before` script: in a fresh clone,
// without .build/ there yet, the compiled fixtures were not excluded and coverage fell short):
// compiles lib/ and test/ (test/package/ aside) to .build/ (JavaScript
// with source maps). The programs the tests spawn then start in plain node, not through a
// TypeScript loader (measured: a boot took 11-14 s at load average 15, 2 s compiled), and their
// coverage is mapped back to lib/*.ts through the source maps; the test files themselves run
// from there too (test/helpers/ts-require.js, given to node by tap's config).
// Only the files newer than their output are compiled, each alone (transpileModule, as tap's
// loader did; `npm run typecheck` checks the types): a whole `tsc` run took 50-60 s at load 20.
const { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } = require('node:fs')
const { basename, dirname, join, relative, resolve } = require('node:path')
const ts = require('typescript')

const root = resolve(__dirname, '..', '..')
const out = join(root, '.build')
const { config } = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile)
const { options } = ts.convertCompilerOptionsFromJson(config.compilerOptions, root)

const mtime = (file) => { try { return statSync(file).mtimeMs } catch { return -1 } }

function build (dir) {
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      build(path)
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
      const js = join(out, path.replace(/\.ts$/, '.js'))
      if (mtime(join(root, path)) <= mtime(js)) continue
      const [code, map] = transpile(join(root, path))
      // the map names its source relative to itself: .build/lib/x.js.map -> ../../lib/x.ts
      map.sources = [relative(dirname(js), join(root, path))]
      map.file = basename(js)
      mkdirSync(dirname(js), { recursive: true })
      // written aside and renamed: a test running meanwhile reads the old file or the new one
      writeAtomic(`${js}.map`, JSON.stringify(map))
      writeAtomic(js, code.replace(/\/\/# sourceMappingURL=\S+\s*$/, `//# sourceMappingURL=${basename(js)}.map\n`))
    }
  }
}

function writeAtomic (file, text) {
  const aside = `${file}.${process.pid}.tmp`
  writeFileSync(aside, text)
  renameSync(aside, file)
}

/** `file` (absolute) compiled alone with the project's compiler options: [JavaScript, source map]. */
function transpile (file) {
  const { outputText, sourceMapText } = ts.transpileModule(readFileSync(file, 'utf8'), {
    fileName: file,
    compilerOptions: { ...options, sourceMap: true, inlineSourceMap: false, declaration: false, noEmit: false }
  })
  return [outputText, JSON.parse(sourceMapText)]
}

module.exports = { transpile }

if (require.main === module) {
  build('lib')
  // the tests themselves too: test/helpers/ts-require.js runs them from .build/
  for (const dir of ['fixtures', 'helpers', 'unit', 'e2e']) build(join('test', dir))
}
