import t from 'tap'
import { AtExitHooks, checkHook, closeWithin } from '../../lib/at-exit'

function logger (): { lines: Array<{ obj: Record<string, unknown>, msg: string }>, error (obj: object, msg: string): void } {
  const lines: Array<{ obj: Record<string, unknown>, msg: string }> = []
  return { lines, error: (obj, msg) => { lines.push({ obj: obj as Record<string, unknown>, msg }) } }
}

t.test('hooks run once, concurrently, each isolated, bounded by the timeout', async t => {
  const hooks = new AtExitHooks()
  const ran: string[] = []
  hooks.add(() => { ran.push('sync') })
  hooks.add(async function failing () { throw new Error('nope') })
  hooks.add(() => Promise.reject(new Error('rejected')))
  hooks.add(function never () { return new Promise(() => {}) })
  const off = hooks.add(() => { ran.push('removed') })
  off()
  off() // twice is harmless
  const log = logger()
  const report = await hooks.run(50, log)
  t.same(ran, ['sync'])
  t.same(report, { ran: 4, failed: [1, 2], timedOut: [3] })
  t.match(log.lines, [
    { obj: { hook: 1, name: 'failing' }, msg: 'hot-restart: atExit hook 1 failed' },
    { obj: { hook: 2 }, msg: 'hot-restart: atExit hook 2 failed' },
    { obj: { hook: 3, name: 'never', atExitTimeout: 50 }, msg: 'hot-restart: atExit hook 3 did not settle within atExitTimeout' }
  ])
  t.same(await hooks.run(50, log), { ran: 0, failed: [], timedOut: [] }, 'a second run runs nothing')
})

t.test('onDrain hooks name themselves and their timeout', async t => {
  const hooks = new AtExitHooks('onDrain', 'drainTimeout')
  hooks.add(() => new Promise(() => {}))
  const log = logger()
  await hooks.run(10, log)
  t.match(log.lines[0], { obj: { drainTimeout: 10 }, msg: 'hot-restart: onDrain hook 0 did not settle within drainTimeout' })
})

t.test('checkHook', async t => {
  const fn = (): void => {}
  t.equal(checkHook('atExit', fn), fn)
  t.throws(() => checkHook('atExit', 'x'), { code: 'FST_HOT_RESTART_INVALID_OPTION', message: /Expected the atExit hook to be a function, got `"x"` \(string\)/ })
})

t.test('closeWithin: each closer isolated, all bounded by the timeout', async t => {
  const failed: Array<[string, string]> = []
  const started = performance.now()
  const left = await closeWithin([
    { name: 'fine', close: async () => {} },
    { name: 'bad', close: async () => { throw new Error('no') } },
    { name: 'stuck', close: () => new Promise<void>(() => {}) }
  ], 200, (err, name) => { failed.push([name, (err as Error).message]) })
  t.same(left, ['stuck'], 'the one that never settled')
  t.same(failed, [['bad', 'no']], 'a failure is reported, not thrown')
  t.ok(performance.now() - started >= 190, 'waited for the timeout')
  t.same(await closeWithin([], 10000, () => {}), [], 'nothing to close: at once')
})
