'use strict'
// The timeline picture of one subject: a panel per workload run with reloads; latency over
// time (p50 and max per pixel column, log scale), reloads as vertical lines over their shaded
// windows, failed requests as red marks along the top.
const { el, polyline, svgDocument } = require('./svg')
const { reloadWindows } = require('./windows')

const WIDTH = 900
const PANEL = 170
const LEFT = 62
const RIGHT = 12
const TOP = 46
const PLOT = WIDTH - LEFT - RIGHT
const MIN_MS = 0.1

/**
 * @param {string} title
 * @param {Array<{ label: string, recorder: { starts: number[], latencies: number[], kinds: string[] },
 *   reloads: Array<{ triggeredAt: number, doneAt: number }>, from: number, end: number }>} panels
 * @returns {string} the SVG document
 */
function timelineSvg (title, panels) {
  const height = TOP + panels.length * (PANEL + 30) + 10
  const parts = [
    el('rect', { width: WIDTH, height, fill: 'white' }),
    el('text', { x: LEFT, y: 16, 'font-size': 14, 'font-weight': 'bold' }, title),
    el('text', { x: LEFT, y: 30, fill: '#555' }, 'per pixel column: latency p50 (dark) and max (light), log scale; reloads: grey lines, windows shaded; failures: red marks')
  ]
  panels.forEach((p, i) => parts.push(panel(p, TOP + i * (PANEL + 30))))
  return svgDocument(WIDTH, height, parts)
}

function panel ({ label, recorder, reloads, from, end }, top) {
  const { starts, latencies, kinds } = recorder
  const span = Math.max(1, end - from)
  const x = (t) => LEFT + ((t - from) / span) * PLOT
  let maxMs = MIN_MS * 10
  for (let i = 0; i < latencies.length; i++) if (kinds[i] === 'ok' && latencies[i] > maxMs) maxMs = latencies[i]
  const decades = Math.ceil(Math.log10(maxMs / MIN_MS))
  const y = (ms) => top + 14 + PANEL - 14 - (Math.log10(Math.max(ms, MIN_MS) / MIN_MS) / decades) * (PANEL - 14)
  // per pixel column: the ok latencies, and whether a request failed
  const columns = Array.from({ length: PLOT }, () => [])
  const failed = new Set()
  let failures = 0
  let requests = 0
  for (let i = 0; i < starts.length; i++) {
    if (starts[i] < from) continue
    requests++
    const c = Math.min(PLOT - 1, Math.floor(((starts[i] - from) / span) * PLOT))
    if (kinds[i] === 'ok') columns[c].push(latencies[i])
    else { failed.add(c); failures++ }
  }
  // one polyline per run of columns with answers: a gap stays a gap
  const p50 = [[]]
  const max = [[]]
  columns.forEach((col, c) => {
    if (col.length === 0) {
      if (p50[p50.length - 1].length > 0) { p50.push([]); max.push([]) }
      return
    }
    col.sort((a, b) => a - b)
    p50[p50.length - 1].push([LEFT + c + 0.5, y(col[Math.floor((col.length - 1) / 2)])])
    max[max.length - 1].push([LEFT + c + 0.5, y(col[col.length - 1])])
  })
  const out = [
    el('text', { x: LEFT, y: top + 8, 'font-weight': 'bold' }, `${label}: ${reloads.length} reloads, ${requests} requests, ${failures} failed`),
    el('rect', { x: LEFT, y: top + 14, width: PLOT, height: PANEL - 14, fill: 'none', stroke: '#999' })
  ]
  for (const w of reloadWindows(reloads)) {
    const x0 = Math.max(LEFT, x(w.start))
    out.push(el('rect', { x: x0, y: top + 14, width: Math.max(0.5, Math.min(LEFT + PLOT, x(w.end)) - x0), height: PANEL - 14, fill: '#f0f0f0' }))
  }
  for (let d = 0; d <= decades; d++) {
    const ms = MIN_MS * 10 ** d
    out.push(el('line', { x1: LEFT, x2: LEFT + PLOT, y1: y(ms), y2: y(ms), stroke: '#e4e4e4' }))
    out.push(el('text', { x: LEFT - 4, y: y(ms) + 4, 'text-anchor': 'end', fill: '#555' }, ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`))
  }
  for (const r of reloads) out.push(el('line', { x1: x(r.triggeredAt), x2: x(r.triggeredAt), y1: top + 14, y2: top + PANEL, stroke: '#888', 'stroke-width': 0.7 }))
  for (const points of max) if (points.length > 0) out.push(polyline(points, { stroke: '#9ecae1', 'stroke-width': 1 }))
  for (const points of p50) if (points.length > 0) out.push(polyline(points, { stroke: '#08519c', 'stroke-width': 1.2 }))
  for (const c of failed) out.push(el('line', { class: 'failure', x1: LEFT + c + 0.5, x2: LEFT + c + 0.5, y1: top + 14, y2: top + 26, stroke: '#d62728', 'stroke-width': 1.5 }))
  // about a dozen labels (Infinity: the first alone)
  const step = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, Infinity].find(s => span / 1000 / s <= 12)
  for (let s = 0; s * 1000 <= span; s += step) {
    out.push(el('text', { x: x(from + s * 1000), y: top + PANEL + 14, 'text-anchor': s === 0 ? 'start' : 'middle', fill: '#555' }, `${s} s`))
  }
  return el('g', {}, out)
}

module.exports = { timelineSvg }
