// The bench's own SVG writer and the timeline it draws.
import t from 'tap'
const { escape, el, polyline, svgDocument } = require('../../bench/lib/svg.js')
const { timelineSvg } = require('../../bench/lib/timeline.js')

const count = (text: string, re: RegExp): number => (text.match(re) ?? []).length

t.test('elements, attributes and text are escaped', async t => {
  t.equal(escape('a<b>&"c\''), 'a&lt;b&gt;&amp;&quot;c&#39;')
  t.equal(el('text', { x: 1.234, y: undefined, class: 'a"b' }, '<1 ms & more>'),
    '<text x="1.23" class="a&quot;b">&lt;1 ms &amp; more&gt;</text>')
  t.equal(el('g', {}, [el('rect', { width: 2 }), el('circle')]), '<g><rect width="2"/><circle/></g>')
  t.equal(el('line'), '<line/>')
  t.equal(polyline([[0, 1.26], [2.04, 3]], { stroke: 'red' }), '<polyline points="0,1.3 2,3" fill="none" stroke="red"/>')
})

t.test('a document has the namespace, its size and a view box', async t => {
  const doc = svgDocument(10, 20, [el('rect', { width: 10, height: 20 })])
  t.match(doc, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="10" height="20" viewBox="0 0 10 20"/)
  t.match(doc, /<rect width="10" height="20"\/><\/svg>\n$/)
})

t.test('the timeline: a panel per run, a line per reload, a mark per column with failures', async t => {
  const recorder = {
    // the first request is the warm-up, left out
    starts: [0, 1000, 1001, 2000, 5000, 5001, 9000, 14000],
    latencies: [9999, 1, 2, 3, 800, 5, 2, 4],
    kinds: ['ok', 'ok', 'ok', 'ok', 'ok', 'ECONNRESET', 'ECONNREFUSED', 'ok']
  }
  const reloads = [{ triggeredAt: 4900, doneAt: 5300 }, { triggeredAt: 8900, doneAt: 9200 }]
  const svg = timelineSvg('naive <restart>', [
    { label: 'W1', recorder, reloads, from: 500, end: 15000 },
    { label: 'W3', recorder: { starts: [], latencies: [], kinds: [] }, reloads: [], from: 0, end: 0 }
  ])
  t.match(svg, /naive &lt;restart&gt;/)
  t.match(svg, /W1: 2 reloads, 7 requests, 2 failed/)
  t.match(svg, /W3: 0 reloads, 0 requests, 0 failed/)
  t.equal(count(svg, /class="failure"/g), 2, 'a red mark per column with a failure')
  t.equal(count(svg, /stroke="#888"/g), 2, 'a grey line per reload')
  t.equal(count(svg, /fill="#f0f0f0"/g), 2, 'a shaded window per reload')
  // a gap without answers (5 s to 14 s here, but for one at 9 s that failed) breaks the lines
  t.ok(count(svg, /stroke="#08519c"/g) >= 2, 'the p50 line has a gap')
  t.match(svg, /1 s<\/text>/, 'the latency axis reaches the slowest answer')
  t.match(svg, />10 s<\/text>/, 'a time axis')
  t.equal(count(svg, /<svg /g), 1)
  t.equal(count(svg, /<g>/g), count(svg, /<\/g>/g))
})
