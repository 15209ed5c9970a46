// The bench's classes of outcome: what a user would call the failure.
import t from 'tap'
// bench/ is plain JavaScript, run by node without a build step
const { CLASSES, classify } = require('../../bench/lib/classify.js')

t.test('a 2xx answer is ok, any other status is non2xx with its code', async t => {
  t.same(classify({ status: 200 }), { kind: 'ok' })
  t.same(classify({ status: 204 }), { kind: 'ok' })
  t.same(classify({ status: 503 }), { kind: 'non2xx', detail: '503' })
  t.same(classify({ status: 302 }), { kind: 'non2xx', detail: '302' })
})

t.test('socket errors keep their own class', async t => {
  for (const code of ['ECONNRESET', 'ECONNREFUSED', 'EPIPE']) t.same(classify({ error: { code } }), { kind: code })
  // node:http's "socket hang up" carries ECONNRESET
  t.same(classify({ error: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) }), { kind: 'ECONNRESET' })
})

t.test('timeouts: ours, the kernel\'s and the socket\'s', async t => {
  for (const code of ['TIMEOUT', 'ETIMEDOUT', 'ESOCKETTIMEDOUT']) t.same(classify({ error: { code } }), { kind: 'timeout' })
})

t.test('anything else is other, with the code or the message', async t => {
  t.same(classify({ error: { code: 'HPE_INVALID_CHUNK_SIZE' } }), { kind: 'other', detail: 'HPE_INVALID_CHUNK_SIZE' })
  t.same(classify({ error: new Error('weird') }), { kind: 'other', detail: 'weird' })
  t.same(classify({ error: {} }), { kind: 'other', detail: 'unknown error' })
  // an error wins over a status seen before it (a response cut short)
  t.same(classify({ status: 200, error: { code: 'ECONNRESET' } }), { kind: 'ECONNRESET' })
})

t.test('the classes the tables show', async t => {
  t.same(CLASSES, ['non2xx', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'timeout', 'other'])
})
