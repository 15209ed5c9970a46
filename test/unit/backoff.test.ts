// The supervisor's crash backoff: a pure function of the recent crash times.
import t from 'tap'
import { crashBackoff, MAX_BACKOFF, RESTART_WINDOW } from '../../lib/backoff'

t.test('the first crash restarts at once, the next ones wait twice as long each, up to MAX_BACKOFF', async t => {
  const delays: Array<number | undefined> = []
  let crashes: number[] = []
  for (let now = 1000; now < 1010; now++) {
    const next = crashBackoff(crashes, now, 100)
    crashes = next.crashes
    delays.push(next.delay)
  }
  t.same(delays, [0, 100, 200, 400, 800, 1600, 3200, MAX_BACKOFF, MAX_BACKOFF, MAX_BACKOFF])
  t.equal(crashes.length, 10)
})

t.test('past maxRestarts within the window: give up; older crashes no longer count', async t => {
  const earlier = [0, 10, 20]
  t.same(crashBackoff(earlier, 30, 3), { crashes: [0, 10, 20, 30], delay: undefined })
  t.same(earlier, [0, 10, 20], 'the input is not modified')
  t.same(crashBackoff(earlier, RESTART_WINDOW + 15, 3), { crashes: [20, RESTART_WINDOW + 15], delay: 100 })
  t.same(crashBackoff(earlier, RESTART_WINDOW * 2, 3), { crashes: [RESTART_WINDOW * 2], delay: 0 })
  t.same(crashBackoff([], 5, 0), { crashes: [5], delay: undefined }, 'maxRestarts 0: no restart')
})
