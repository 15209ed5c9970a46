// What /proc says about a process: running or not (a zombie is not), its start time, its owner.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import t from 'tap'
import { isRunning, processOwner, processStart } from '../../lib/process-info'

t.test('this process, and one that has exited and been reaped', async t => {
  t.match(processStart(process.pid), /^\d+$/)
  t.equal(processStart(process.pid), processStart(process.pid), 'stable')
  t.ok(isRunning(process.pid))
  t.equal(processOwner(process.pid), process.getuid?.())
  const gone = spawn(process.execPath, ['-e', ''])
  await once(gone, 'exit')
  t.equal(processStart(gone.pid!), undefined)
  t.notOk(isRunning(gone.pid!))
  t.equal(processOwner(gone.pid!), undefined)
})
