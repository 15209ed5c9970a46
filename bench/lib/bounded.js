'use strict'
// How the bench's scripts run: `main(progressed)` resolves with the exit code; `cleanup()` kills
// what the script started (idempotent). A script gives up (cleanup, then exit 2; 130 for
// SIGINT or SIGTERM; 2 if `main` throws) past `limitMs`, or once `stallMs` have passed with no
// call to `progressed()`: on a loaded machine a run takes longer, and only a run that has
// stopped moving is stuck. `onGiveUp()` may print what was measured so far.

/** Resolves after `ms`. */
const sleep = (ms) => new Promise(resolve => setTimeout(resolve, ms))

/**
 * Runs `main` bounded in time.
 * @param limits a number (ms, the whole run) or `{ limitMs, stallMs, onGiveUp }`
 * @param say writes a line to the terminal
 */
function runBounded (main, cleanup, limits, say) {
  const { limitMs = Infinity, stallMs = Infinity, onGiveUp = () => {} } = typeof limits === 'number' ? { limitMs: limits } : limits
  let stall
  const giveUp = (why) => {
    clearTimeout(stall)
    say(`bench: ${why}; killing what it started`)
    try { onGiveUp() } catch (err) { say(`bench: ${err.stack}`) }
    cleanup().finally(() => process.exit(2))
  }
  const limit = Number.isFinite(limitMs) ? setTimeout(() => giveUp(`gave up after ${limitMs} ms`), limitMs) : undefined
  const progressed = () => {
    if (!Number.isFinite(stallMs)) return
    clearTimeout(stall)
    stall = setTimeout(() => giveUp(`no progress for ${stallMs} ms`), stallMs)
  }
  progressed()
  const done = () => { clearTimeout(limit); clearTimeout(stall) }
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => cleanup().finally(() => process.exit(130)))
  main(progressed).then(async code => {
    done()
    await cleanup()
    process.exitCode = code
  }, async err => {
    done()
    say(`bench: ${err.stack}`)
    await cleanup()
    process.exitCode = 2
  })
}

module.exports = { runBounded, sleep }
