// A generation's link to its supervisor, in-process: when it applies, and a supervisor that is
// gone before the generation connects.
import t from 'tap'
import { connectSupervisor, SUPERVISOR_ENV } from '../lib/supervised'

const fakeProcess = (env: Record<string, string>, connected: boolean) => ({ env, ppid: 4242, connected }) as unknown as NodeJS.Process

t.test('no supervisor in the environment: standalone', async t => {
  t.equal(connectSupervisor(false, fakeProcess({}, true)), undefined)
})

t.test('a supervisor that is no longer the parent, or whose channel is closed: the boot fails', async t => {
  const env = { [SUPERVISOR_ENV]: '777' }
  t.throws(() => connectSupervisor(true, fakeProcess(env, true)), { code: 'FST_HOT_RESTART_SUPERVISOR_EXITED', message: /the supervisor \(pid 777\) that started this process has exited/ })
  t.equal(env[SUPERVISOR_ENV], undefined, 'the variable is gone: the app\'s own children do not see it')
  t.throws(() => connectSupervisor(true, fakeProcess({ [SUPERVISOR_ENV]: '4242' }, false)), { code: 'FST_HOT_RESTART_SUPERVISOR_EXITED' })
})
