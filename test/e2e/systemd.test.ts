// systemd's notify protocol against a fake notify socket: in standalone mode each generation
// says MAINPID=<its pid> and READY=1 before its predecessor may exit; the helper's failures are
// logged, never thrown. (Supervised mode: see supervisor.test.ts.)
import t from 'tap'
import { monotonicUsec, notifySystemd, systemdNotifies } from '../../lib/systemd'
import { predecessorGone, reload, startApp } from '../helpers/app'
import { startNotifySocket } from '../helpers/notify-socket'

t.test('notifySystemd: nothing without NOTIFY_SOCKET; a failure is logged', async t => {
  const warnings: Array<{ obj: object, msg: string }> = []
  const log = { warn: (obj: object, msg: string) => { warnings.push({ obj, msg }) } }
  t.equal(systemdNotifies({}), false)
  t.equal(systemdNotifies({ NOTIFY_SOCKET: '' }), false)
  await notifySystemd(['READY=1'], log, {})
  t.same(warnings, [])
  await notifySystemd(['READY=1'], log, { ...process.env, NOTIFY_SOCKET: '/nonexistent/notify.sock' })
  t.match(warnings, [{ msg: 'hot-restart: could not notify systemd (is systemd-notify installed?)', obj: { assignments: ['READY=1'], notifySocket: '/nonexistent/notify.sock' } }])
  t.match(monotonicUsec(), /^\d+$/)
})

t.test('standalone: every generation tells systemd its pid, before its predecessor drains', async t => {
  const notify = await startNotifySocket()
  t.teardown(() => notify.close())
  const app = await startApp({ NOTIFY_SOCKET: notify.path })
  t.teardown(() => app.kill())
  const first = app.proc.pid!
  await notify.waitFor(n => n.notify === `MAINPID=${first}\nREADY=1`, 'of generation 1')
  const { successorPid, line } = await reload(app, first)
  const second = await notify.waitFor(n => n.notify === `MAINPID=${successorPid}\nREADY=1`, 'of generation 2')
  t.ok(second.time <= (line.time as number), 'systemd knew the new main pid before the predecessor started to drain')
  await predecessorGone(app, successorPid)
  await app.stop(successorPid)
  t.equal(notify.notifications.length, 2)
})
