// Endurance, the CI version of `npm run soak`: 12 generations back to back (each reload as soon
// as the previous predecessor has exited) under light load. Nothing leaks across generations:
// the fd count of the 13th generation equals the 2nd's, its RSS has not grown; no request
// fails; the pid file always names a live process that said it was ready; no process is left.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { predecessorGone, reload, startApp } from '../helpers/app'
import { startLoad } from '../helpers/load'
import { alive, fdCount, rssMB } from '../helpers/proc'

// 12: a leak of one fd per generation shows from the second; `npm run soak` runs longer
const RELOADS = 12

// about 1.3 s per generation on a quiet 2-core machine; much more when it is shared
t.setTimeout(360000)

t.test(`${RELOADS} generations back to back: flat fds and RSS, 0 failed requests, a true pid file, no process left`, { skip: process.platform !== 'linux' && 'reads /proc' }, async t => {
  const app = await startApp({ QUIET: '1' })
  t.teardown(() => app.kill())
  let pid = app.proc.pid!
  const pids = [pid]
  const load = startLoad(app.port, { keepAlive: 2, fresh: 1, interval: 20 })

  // the pid file, read every 20 ms, must name a running process (read again after a failed
  // check: the process named may have exited and been replaced between the two reads)
  const problems: string[] = []
  const named = new Set<number>()
  const read = (): number => Number(readFileSync(app.pidFile, 'utf8'))
  const watcher = setInterval(() => {
    const p = read()
    named.add(p)
    if (!alive(p) && read() === p) problems.push(`the pid file names ${p}, which is not running`)
  }, 20)

  const fds: number[] = []
  const rss: number[] = []
  for (let i = 1; i <= RELOADS; i++) {
    pid = (await reload(app, pid)).successorPid
    pids.push(pid)
    await predecessorGone(app, pid)
    fds.push(fdCount(pid))
    rss.push(rssMB(pid))
  }
  clearInterval(watcher)
  const outcome = await load.stop()
  t.comment(`fds per generation: ${fds.join(' ')}`)
  t.comment(`RSS (MB) at generation 2: ${rss[0]}, 7: ${rss[5]}, ${RELOADS + 1}: ${rss[RELOADS - 1]}; requests ${outcome.ok + outcome.failed}, failed ${outcome.failed}`)
  t.ok(fds.every(c => c === fds[0]), `the fd count never changed (${fds[0]})`)
  t.ok(rss[RELOADS - 1]! < rss[0]! * 1.3, 'the RSS did not grow')
  t.equal(outcome.failed, 0, 'no request failed')
  t.same(outcome.failures, {})
  t.same(problems, [], 'the pid file always named a running process')
  const ready = new Set(app.lines.filter(l => l.event === 'ready').map(l => l.pid))
  t.same([...named].filter(p => !ready.has(p)), [], 'every pid it named said it was ready')
  t.equal(read(), pid, 'it names the last generation')

  await app.stop(pid)
  t.same(pids.filter(alive), [], `none of the ${RELOADS + 1} generations is left running`)
})
