'use strict'
// A small SVG writer: elements as strings, every text and attribute escaped.

const ENTITIES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Escapes text for XML content and attribute values. */
function escape (text) {
  return String(text).replace(/[&<>"']/g, c => ENTITIES[c])
}

/**
 * One element. Attributes that are undefined are left out; numbers are rounded to 0.01.
 * @param {string} name
 * @param {Record<string, string | number | undefined>} attrs
 * @param {string | string[]} children markup (from el()) or, as a string, text to escape
 */
function el (name, attrs = {}, children = []) {
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escape(typeof v === 'number' ? Math.round(v * 100) / 100 : v)}"`)
    .join('')
  const inner = typeof children === 'string' ? escape(children) : children.join('')
  return inner === '' ? `<${name}${a}/>` : `<${name}${a}>${inner}</${name}>`
}

/** A polyline through `points` ([x, y] pairs). */
function polyline (points, attrs) {
  return el('polyline', { points: points.map(([x, y]) => `${Math.round(x * 10) / 10},${Math.round(y * 10) / 10}`).join(' '), fill: 'none', ...attrs })
}

/** A whole document. */
function svgDocument (width, height, children) {
  return '<?xml version="1.0" encoding="UTF-8"?>\n' +
    el('svg', { xmlns: 'http://www.w3.org/2000/svg', width, height, viewBox: `0 0 ${width} ${height}`, 'font-family': 'sans-serif', 'font-size': 11 }, children) + '\n'
}

module.exports = { escape, el, polyline, svgDocument }
