// The default logger (node:http adapter, `run`): one JSON line per entry, and a log call never
// throws (issue 10 item 19): circular objects, BigInts, throwing getters, a closed output.
import t from 'tap'
import { formatLine, jsonLogger } from '../../lib/log'

function capture (fn: () => void, write?: (chunk: string) => boolean): string[] {
  const out: string[] = []
  const stdout = process.stdout.write
  const stderr = process.stderr.write
  const sink = write ?? ((chunk: string): boolean => { out.push(chunk); return true })
  process.stdout.write = sink as never
  process.stderr.write = sink as never
  try {
    fn()
  } finally {
    process.stdout.write = stdout
    process.stderr.write = stderr
  }
  return out
}

t.test('a circular object is logged, with [Circular] where it refers to itself', async t => {
  const circular: Record<string, unknown> = { name: 'pool' }
  circular.self = circular
  circular.list = [circular, { ok: 1 }]
  const shared = { n: 1 }
  const [line] = capture(() => jsonLogger.error({ err: circular, twice: [shared, shared] }, 'hook failed'))
  t.same(JSON.parse(line!), {
    level: 50,
    time: JSON.parse(line!).time,
    pid: process.pid,
    err: { name: 'pool', self: '[Circular]', list: ['[Circular]', { ok: 1 }] },
    twice: [{ n: 1 }, { n: 1 }],
    msg: 'hook failed'
  }, 'a repeated object that is not circular is shown twice')
})

t.test('errors keep type, message, code and stack, wherever they are', async t => {
  const err = Object.assign(new TypeError('bad'), { code: 'X' }) as TypeError & { self?: unknown }
  err.self = err
  const [line] = capture(() => jsonLogger.error({ err, details: { cause: new Error('inner') } }, 'failed'))
  const parsed = JSON.parse(line!)
  t.match(parsed, { err: { type: 'TypeError', message: 'bad', code: 'X' }, details: { cause: { type: 'Error', message: 'inner' } } })
  t.match(parsed.err.stack, /^TypeError: bad\n\s+at /)
  t.notOk('code' in parsed.details.cause, 'no code when the error has none')
})

t.test('what JSON cannot encode does not throw', async t => {
  const [big] = capture(() => jsonLogger.info({ n: 10n }, 'big'))
  t.match(JSON.parse(big!), { n: '10', msg: 'big' })
  const throwing = { get boom (): never { throw new Error('getter') } }
  const [line] = capture(() => jsonLogger.warn(throwing, 'still logged'))
  t.match(JSON.parse(line!), { level: 40, msg: 'still logged', logError: 'getter' })
  t.match(JSON.parse(formatLine(30, { toJSON () { throw 'not an error' } }, 'm')), { logError: 'not an error' }) // eslint-disable-line no-throw-literal
})

t.test('an output that throws loses the line, not the process', async t => {
  const lost = capture(() => {
    jsonLogger.info({}, 'a')
    jsonLogger.warn({}, 'b')
    jsonLogger.error({ err: new Error('c') }, 'c')
  }, () => { throw Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }) })
  t.same(lost, [])
})
