// Nothing leaks across generations: the process serving after 20 reloads has as many fds as
// the one serving after 1.
import { readdirSync } from 'node:fs'
import t from 'tap'
import { predecessorGone, reload, startApp } from './helpers/app'

const RELOADS = 20

function fds (pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).sort((a, b) => Number(a) - Number(b))
}

t.test(`the fd count after ${RELOADS} reloads equals the count after 1`, { skip: process.platform !== 'linux' && 'reads /proc' }, async t => {
  const app = await startApp({ QUIET: '1' })
  t.teardown(() => app.kill())
  let pid = app.proc.pid!
  const counts: number[] = []
  for (let i = 1; i <= RELOADS; i++) {
    pid = (await reload(app, pid)).successorPid
    await predecessorGone(app, pid)
    counts.push(fds(pid).length)
  }
  t.comment(`fd count per generation: ${counts.join(' ')}`)
  t.equal(counts[RELOADS - 1], counts[0], `generation ${RELOADS + 1} has as many fds as generation 2`)
  t.ok(counts.every(c => c === counts[0]), 'the count never changed')
  await app.stop(pid)
})
