'use strict'
// Exits 0 when tap's Test class is built with the plugins package.json's "tap.plugin" asks
// for, 1 when it is not (then `npm test` runs `tap build` before tap).
//
// `npm ci` installs tap built with its default plugins. tap's runner sees the difference and
// rebuilds, but only for the next run: the test processes of the run that found it still get
// the loaders of the default set, ts-node among them, in each of the ~90 test files. That made
// the first `npm test` of a fresh clone about 2 minutes longer than the next one.
// `tap build` alone takes about 7 s; this check, a fraction of a second.
const { readFileSync } = require('node:fs')

async function main () {
  const { TapConfig } = await import('@tapjs/config')
  const wanted = (await TapConfig.load()).pluginSignature
  // the built class's signature, read from its source: loading it alone fails (an import circle)
  const built = readFileSync(require.resolve('@tapjs/test/test-built'), 'utf8')
    .match(/^exports\.signature = `([^`]*)`;$/m)?.[1]
  return built === wanted
}

main().then((same) => { process.exitCode = same ? 0 : 1 }, (err) => {
  console.error(`scripts/tap-built.js: could not compare tap's plugins (${err.message}); tap will be rebuilt`)
  process.exitCode = 1
})
