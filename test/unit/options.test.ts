import t from 'tap'
import { checkWarmup, defaults, describe, resolveOptions } from '../../lib/options'

t.test('defaults', async t => {
  t.same(resolveOptions(undefined), { signal: 'SIGUSR2', pidFile: undefined, readyTimeout: 60000, drainTimeout: 30000, atExitTimeout: 10000, idleGrace: 5000, closeSpread: 1000, connectionHandover: true, closeWithGrace: {}, stopDelay: 0, successorNice: 0 })
  t.same(resolveOptions(null).closeWithGrace, {})
  t.same(resolveOptions({ prefix: '/x', logLevel: 'info' }).signal, defaults.signal, 'Fastify register options pass')
  t.same(resolveOptions({ closeWithGrace: false }).closeWithGrace, false)
  t.same(resolveOptions({ closeWithGrace: { delay: 5, skip: ['SIGHUP'] } }).closeWithGrace, { delay: 5, skip: ['SIGHUP'] })
  t.same(resolveOptions({ closeWithGrace: { delay: false } }).closeWithGrace, { delay: false })
  t.equal(resolveOptions({ signal: 'SIGHUP', pidFile: 'a.pid', readyTimeout: 1, drainTimeout: 2, atExitTimeout: 3 }).drainTimeout, 2)
  t.equal(resolveOptions({ idleGrace: 0 }).idleGrace, 0, 'idle connections may be closed at once')
  t.equal(resolveOptions({ connectionHandover: false }).connectionHandover, false, 'the hand-over may be turned off')
  t.equal(resolveOptions({ closeSpread: 0 }).closeSpread, 0, 'closes may all happen at the start of the drain')
  t.equal(resolveOptions({ closeSpread: 2000, drainTimeout: 2000 }).closeSpread, 2000, 'the spread may last the whole drain')
  t.equal(resolveOptions({ drainTimeout: 500 }).closeSpread, 500, 'the default spread is no longer than drainTimeout')
  t.equal(resolveOptions({ successorNice: 19 }).successorNice, 19)
  t.doesNotThrow(() => checkWarmup(undefined))
  t.doesNotThrow(() => checkWarmup(async () => {}))
})

t.test('every wrong option throws a coded error naming the option, the expectation and the value', async t => {
  const cases: Array<[unknown, RegExp]> = [
    ['opts', /Expected `options` to be an object, got `"opts"` \(string\)/],
    [[1], /Expected `options` to be an object, got \[1\] \(array\)/],
    [{ bogus: 1 }, /Unknown option `bogus`; known options are signal, pidFile/],
    [{ signal: 'USR2' }, /Expected `signal` to be a catchable signal name .* got `"USR2"` \(string\)/],
    [{ signal: 'SIGUSR1' }, /`signal`.*got `"SIGUSR1"`/],
    [{ signal: 'SIGFOO' }, /`signal`.*got `"SIGFOO"`/],
    [{ signal: 'SIGKILL' }, /`signal`/],
    [{ signal: 12 }, /`signal`.*got `12` \(number\)/],
    [{ pidFile: '' }, /Expected `pidFile` to be a non-empty file path, got `""` \(string\)/],
    [{ pidFile: 5 }, /`pidFile`.*`5` \(number\)/],
    [{ pidFile: 'a\0b' }, /`pidFile`/],
    [{ closeWithGrace: 'yes' }, /Expected `closeWithGrace` to be a boolean or an object of close-with-grace options, got `"yes"`/],
    [{ closeWithGrace: [] }, /`closeWithGrace`.*\(array\)/],
    [{ closeWithGrace: { delay: -1 } }, /Expected `closeWithGrace.delay` to be a positive integer number of milliseconds, or false, got `-1`/],
    [{ closeWithGrace: { delay: '1s' } }, /`closeWithGrace.delay`/],
    [{ closeWithGrace: { skip: 'SIGHUP' } }, /Expected `closeWithGrace.skip` to be an array of event names/],
    [{ closeWithGrace: { skip: [1] } }, /`closeWithGrace.skip`/],
    [{ connectionHandover: 'yes' }, /Expected `connectionHandover` to be a boolean, got `"yes"` \(string\)/],
    [{ connectionHandover: 0 }, /Expected `connectionHandover` to be a boolean, got `0` \(number\)/]
  ]
  for (const name of ['readyTimeout', 'drainTimeout', 'atExitTimeout']) {
    for (const value of ['5s', 0, -1, 1.5, 2 ** 31, null, true, {}, () => {}, 10n, Symbol('x')]) {
      cases.push([{ [name]: value }, new RegExp(`Expected \`${name}\` to be a positive integer number of milliseconds`)])
    }
  }
  for (const value of ['5s', -1, 1.5, 2 ** 31, null, true]) {
    cases.push([{ idleGrace: value }, /Expected `idleGrace` to be a non-negative integer number of milliseconds/])
  }
  for (const value of [-1, 20, 1.5, '10', true]) {
    cases.push([{ successorNice: value }, /Expected `successorNice` to be an integer from 0 \(off\) to 19 \(nice values\)/])
  }
  for (const value of ['1s', -1, 1.5, 2 ** 31, null]) {
    cases.push([{ closeSpread: value }, /Expected `closeSpread` to be a non-negative integer number of milliseconds/])
  }
  cases.push([{ closeSpread: 1001, drainTimeout: 1000 }, /Expected `closeSpread` to be no longer than `drainTimeout` \(1000 ms\), got `1001` \(number\)/])
  cases.push([{ closeSpread: 30001 }, /Expected `closeSpread` to be no longer than `drainTimeout` \(30000 ms\)/])
  for (const [options, message] of cases) {
    t.throws(() => resolveOptions(options), { code: 'FST_HOT_RESTART_INVALID_OPTION', message }, describe(options))
  }
})

t.test('warmup: a function', async t => {
  for (const value of ['/', ['/'], null, 1]) {
    t.throws(() => checkWarmup(value), { code: 'FST_HOT_RESTART_INVALID_OPTION', message: /Expected `warmup` to be a function \(app\) => Promise<void>, got / }, describe(value))
  }
})

t.test('describe', async t => {
  t.equal(describe(null), 'null')
  t.equal(describe(function named () {}), 'a function (named)')
  t.equal(describe(() => {}), 'a function (anonymous)')
  t.equal(describe(10n), '10n (bigint)')
  t.equal(describe(Symbol('s')), 'Symbol(s) (symbol)')
  t.equal(describe({ a: 1 }), '{"a":1} (object)')
  t.equal(describe(undefined), '`undefined` (undefined)')
  t.equal(describe({ big: 1n }), 'an object')
})
