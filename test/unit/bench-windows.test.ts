// Which requests a reload could touch: the window from its trigger to its end plus a tail.
import t from 'tap'
const { WINDOW_TAIL_MS, reloadWindows, assignWindows } = require('../../bench/lib/windows.js')

t.test('windows run from trigger to done + tail, merged where they overlap, in order', async t => {
  t.equal(WINDOW_TAIL_MS, 500)
  t.same(reloadWindows([{ triggeredAt: 5000, doneAt: 5400 }, { triggeredAt: 1000, doneAt: 1300 }]),
    [{ start: 1000, end: 1800 }, { start: 5000, end: 5900 }])
  t.same(reloadWindows([{ triggeredAt: 1000, doneAt: 1300 }, { triggeredAt: 1700, doneAt: 2000 }]),
    [{ start: 1000, end: 2500 }], 'back-to-back reloads make one window')
  t.same(reloadWindows([{ triggeredAt: 1000, doneAt: 3000 }, { triggeredAt: 1500, doneAt: 1600 }]),
    [{ start: 1000, end: 3500 }], 'a window inside another')
  t.same(reloadWindows([{ triggeredAt: 10, doneAt: 20 }], 0), [{ start: 10, end: 20 }], 'the tail is a parameter')
  t.same(reloadWindows([]), [])
})

t.test('a request is inside when its lifetime overlaps a window', async t => {
  const windows = [{ start: 100, end: 200 }, { start: 500, end: 600 }]
  const starts = [0, 50, 90, 150, 199, 250, 450, 600, 601, 700]
  const durations = [10, 49, 10, 1, 100, 10, 60, 0, 5, 1]
  t.same([...assignWindows(starts, durations, windows)], [0, 0, 1, 1, 1, 0, 1, 1, 0, 0])
  t.same([...assignWindows([1, 2], [1, 1], [])], [0, 0], 'no reloads, no window')
  t.same([...assignWindows([], [], windows)], [])
})
