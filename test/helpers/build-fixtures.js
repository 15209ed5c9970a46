'use strict'
// tap's `before` script: compiles lib/ and test/fixtures/ to .build/ (JavaScript with source
// maps), the programs the tests spawn. A spawned process then starts in plain node, not through
// tap's TypeScript loader (measured: a boot took 11-14 s at load average 15, 2 s compiled), and
// its coverage is mapped back to lib/*.ts through the source maps.
// Only the files newer than their output are compiled, each alone (transpileModule, as tap's
// loader did; `npm run typecheck` checks the types): a whole `tsc` run took 50-60 s at load 20.
const { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } = require('node:fs')
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
      const { outputText, sourceMapText } = ts.transpileModule(readFileSync(join(root, path), 'utf8'), {
        fileName: join(root, path),
        compilerOptions: { ...options, sourceMap: true, inlineSourceMap: false, declaration: false, noEmit: false }
      })
      // the map names its source relative to itself: .build/lib/x.js.map -> ../../lib/x.ts
      const map = JSON.parse(sourceMapText)
      map.sources = [relative(dirname(js), join(root, path))]
      map.file = basename(js)
      mkdirSync(dirname(js), { recursive: true })
      writeFileSync(`${js}.map`, JSON.stringify(map))
      writeFileSync(js, outputText.replace(/\/\/# sourceMappingURL=\S+\s*$/, `//# sourceMappingURL=${basename(js)}.map\n`))
    }
  }
}

build('lib')
build(join('test', 'fixtures'))
