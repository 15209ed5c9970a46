// run --watch's parts, in-process: the arguments are checked; a change during a reload gets one
// more reload once it is done; a reload refused while the previous generation drains is asked
// again; one that fails is not (see test/e2e/watch.test.ts for the real thing).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { run } from '../../lib/run'
import { reloadOnChange } from '../../lib/watch'

t.test('--watch needs an existing path; --watch-ignore goes with it', async t => {
  for (const [args, message] of [
    [['--watch', '/no/such/folder'], /--watch \/no\/such\/folder: no such file or folder/],
    [['--watch-ignore', 'dist'], /--watch-ignore goes with --watch <path>/]
  ] as const) {
    let err = ''
    t.equal(await run([...args, '--', 'node', 'app.js'], { err: { write: (s: string) => { err += s } } }), 2)
    t.match(err, message)
  }
})

t.test('a change while a reload runs gets one more; a drain in the way is waited out; a failure is not retried', async t => {
  const dir = t.testdir({ 'a.js': '', dist: { 'b.js': '' }, gen: { 'c.js': '' } })
  const calls: string[] = []
  let release!: () => void
  const answers: Array<() => Promise<unknown>> = [
    // the first reload waits until released (the second change comes meanwhile)
    () => new Promise<void>(resolve => { release = resolve }),
    // the one it queued: refused once by a drain, then done
    () => Promise.reject(Object.assign(new Error('draining'), { code: 'FST_HOT_RESTART_PREDECESSOR_DRAINING' })),
    () => Promise.resolve(),
    // a save that does not boot
    () => Promise.reject(Object.assign(new Error('exited'), { code: 'FST_HOT_RESTART_SUCCESSOR_EXITED' }))
  ]
  let settled!: () => void
  const supervisor = {
    reload: (trigger: string) => {
      calls.push(trigger)
      const answer = answers.shift()!()
      if (answers.length === 0) answer.catch(() => {}).then(() => setImmediate(settled))
      return answer
    }
  }
  const changes: unknown[] = []
  const stop = reloadOnChange(supervisor, [dir], ['dist', join(dir, 'gen')], { info: (obj: { files?: unknown }) => { changes.push(obj.files) } })
  t.teardown(stop)
  const waitChanges = async (n: number): Promise<void> => {
    for (let i = 0; i < 3000 && changes.length < n; i++) await new Promise(resolve => setTimeout(resolve, 10))
  }
  writeFileSync(join(dir, 'dist', 'b.js'), '1')
  writeFileSync(join(dir, 'gen', 'c.js'), '1')
  writeFileSync(join(dir, 'a.js'), '1')
  await waitChanges(1)
  t.same(changes, [[join(dir, 'a.js')]], 'ignored by name and by path')
  writeFileSync(join(dir, 'a.js'), '2')
  await waitChanges(2)
  t.equal(calls.length, 1, 'no second reload while the first runs')
  const done = new Promise<void>(resolve => { settled = resolve })
  release()
  await waitChanges(2)
  for (let i = 0; i < 3000 && calls.length < 3; i++) await new Promise(resolve => setTimeout(resolve, 10))
  t.equal(calls.length, 3, 'the queued reload, asked again after the drain refused it')
  writeFileSync(join(dir, 'a.js'), '3')
  await done
  t.same(calls, ['watch', 'watch', 'watch', 'watch'], 'a failed reload is not retried')
})
