'use strict'

// The Fastify org's config (standard style) with its TypeScript rules.
module.exports = [
  ...require('neostandard')({
    ts: true,
    ignores: ['dist/**', '.build/**', 'coverage/**', '.tap/**', 'bench/node_modules/**', 'bench/results/**']
  }),
  {
    // the package is CommonJS ("type": "commonjs"): bench/soak.js returns at top level
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs' }
  },
  {
    rules: {
      // `void promise` marks a promise deliberately not awaited (its errors are handled inside)
      'no-void': ['error', { allowAsStatement: true }],
      // it cannot see a closure clear the flag: `while (running)` ends when stop() sets it false
      'no-unmodified-loop-condition': 'off'
    }
  }
]
