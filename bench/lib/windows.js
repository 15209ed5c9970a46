'use strict'
// Which requests a reload could touch: its window runs from the reload's trigger to the end
// of the predecessor's drain plus a tail; a request is inside if its lifetime overlaps it.

/** How long after a reload's end its window lasts (ms): catches a successor's slow start. */
const WINDOW_TAIL_MS = 500

/**
 * The windows of `reloads`, merged where they overlap, in time order.
 * @param {Array<{ triggeredAt: number, doneAt: number }>} reloads
 * @returns {Array<{ start: number, end: number }>}
 */
function reloadWindows (reloads, tail = WINDOW_TAIL_MS) {
  const windows = reloads
    .map(r => ({ start: r.triggeredAt, end: r.doneAt + tail }))
    .sort((a, b) => a.start - b.start)
  const merged = []
  for (const w of windows) {
    const last = merged[merged.length - 1]
    if (last !== undefined && w.start <= last.end) last.end = Math.max(last.end, w.end)
    else merged.push({ ...w })
  }
  return merged
}

/**
 * For each request, whether its lifetime [start, start + duration] overlaps a window.
 * @param {ArrayLike<number>} starts
 * @param {ArrayLike<number>} durations
 * @param {Array<{ start: number, end: number }>} windows merged and in order (reloadWindows)
 * @returns {Uint8Array} 1 inside a window, 0 outside
 */
function assignWindows (starts, durations, windows) {
  const inside = new Uint8Array(starts.length)
  for (let i = 0; i < starts.length; i++) {
    const start = starts[i]
    const end = start + durations[i]
    // the first window that ends at or after the request starts
    let lo = 0
    let hi = windows.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (windows[mid].end < start) lo = mid + 1
      else hi = mid
    }
    if (lo < windows.length && windows[lo].start <= end) inside[i] = 1
  }
  return inside
}

module.exports = { WINDOW_TAIL_MS, reloadWindows, assignWindows }
