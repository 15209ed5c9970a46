// successorNice's priorities in-process, with a fake OS: what is set, in what order, and when
// nothing is (no right to raise a priority back, the process gone). The real thing, with real
// processes and /proc: test/e2e/warm-successor.test.ts.
import t from 'tap'
import { canRaisePriority, lowerPriority, type PrioritySeam } from '../../lib/priority'

/** A fake OS: nice values by pid (0: the calling thread); `lowerable` says whether a nice value may go down. */
function fakeOs (own: number, { lowerable = true, threads = [100, 101, 102] } = {}): PrioritySeam & { nices: Map<number, number>, calls: string[] } {
  const nices = new Map<number, number>([[0, own]])
  const calls: string[] = []
  return {
    nices,
    calls,
    get: (pid) => nices.get(pid) ?? 0,
    set (pid, priority) {
      if (!threads.includes(pid) && pid !== 0) throw Object.assign(new Error('no such process'), { code: 'ESRCH' })
      if (!lowerable && priority < (nices.get(pid) ?? 0)) throw Object.assign(new Error('permission denied'), { code: 'EACCES' })
      calls.push(`${pid}=${priority}`)
      nices.set(pid, priority)
    },
    threads: () => threads
  }
}

function logger (): { lines: Array<[object, string]>, info (): void, warn (o: object, m: string): void, error (): void } {
  const lines: Array<[object, string]> = []
  return { lines, info () {}, warn (o, m) { lines.push([o, m]) }, error () {} }
}

t.test('lowers every thread of the successor, the main one first, and raises them back to this process\'s', async t => {
  const os = fakeOs(2)
  const raise = lowerPriority(100, 10, undefined, os)
  t.same(os.calls, ['0=1', '0=2', '100=12', '101=12', '102=12'], 'tried: one step up and back on this thread; then the main thread, then the others')
  os.calls.length = 0
  raise!()
  t.same(os.calls, ['100=2', '101=2', '102=2'])
})

t.test('at most 19', async t => {
  const os = fakeOs(15)
  lowerPriority(100, 10, undefined, os)
  t.equal(os.nices.get(101), 19)
})

t.test('0 is off: nothing is set', async t => {
  const os = fakeOs(0)
  t.equal(lowerPriority(100, 0, undefined, os), undefined)
  t.same(os.calls, [])
})

t.test('without the right to raise a priority back, nothing is lowered, and that is logged', async t => {
  const os = fakeOs(0, { lowerable: false })
  const log = logger()
  t.equal(lowerPriority(100, 10, log, os), undefined)
  t.same(os.calls, [], 'no thread was changed')
  t.match(log.lines, [[{ event: 'successor-nice.unavailable', successorNice: 10 }, /CAP_SYS_NICE/]])
  t.equal(lowerPriority(100, 10, undefined, os), undefined, 'no logger: the same, silently')
})

t.test('a process already gone: nothing to raise back', async t => {
  t.equal(lowerPriority(999, 5, undefined, fakeOs(0)), undefined)
})

t.test('canRaisePriority: at -20, only a process with the right is there', async t => {
  const os = fakeOs(-20, { lowerable: false })
  t.equal(canRaisePriority(os), true)
  t.same(os.calls, [])
})

t.test('the real OS (this machine\'s right, whatever it is, changes nothing)', async t => {
  const before = (await import('node:os')).getPriority()
  t.type(canRaisePriority(), 'boolean')
  t.equal((await import('node:os')).getPriority(), before)
})
