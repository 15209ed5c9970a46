'use strict'
// The `--require` that every process a test starts gets (see child-hooks.js): the same hooks for
// its own children, then @tapjs/processinfo's CommonJS registration (the files it loads, its
// coverage, its record at exit), as processinfo's `--import` would do, without a loader thread.
require('./child-hooks.js')
const { dirname, join } = require('node:path')

require(join(dirname(require.resolve('@tapjs/processinfo')), 'get-process-info.js')).getProcessInfo()
