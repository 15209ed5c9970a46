'use strict'
// How the bench's scripts run: `main()` resolves with the exit code; `cleanup()` kills what the
// script started (idempotent). Past `limitMs`, on SIGINT or SIGTERM, or if `main` throws,
// cleanup runs and the script exits 2 (130 for a signal).

/** Runs `main` bounded by `limitMs`; `say` writes a line to the terminal. */
function runBounded (main, cleanup, limitMs, say) {
  const limit = setTimeout(() => {
    say(`bench: gave up after ${limitMs} ms; killing what it started`)
    cleanup().finally(() => process.exit(2))
  }, limitMs)
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => cleanup().finally(() => process.exit(130)))
  main().then(async code => {
    await cleanup()
    clearTimeout(limit)
    process.exitCode = code
  }, async err => {
    say(`bench: ${err.stack}`)
    await cleanup()
    clearTimeout(limit)
    process.exitCode = 2
  })
}

module.exports = { runBounded }
