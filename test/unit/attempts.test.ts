// The refusal rules and the attempt record that a generation and the supervisor share.
import t from 'tap'
import { AttemptLog, refusal, type Phase } from '../../lib/attempts'

t.test('each refusal has its own code, checked in order', async t => {
  const code = (phase: Phase, more: { platform?: NodeJS.Platform, predecessorDraining?: string } = {}): string | undefined =>
    (refusal({ phase, ...more }) as { code?: string } | undefined)?.code
  t.equal(code('serving', { platform: 'win32' }), 'FST_HOT_RESTART_NOT_SUPPORTED')
  t.equal(code('stopping'), 'FST_HOT_RESTART_SHUTTING_DOWN')
  t.match(refusal({ phase: 'stopping' }), { message: /this process is shutting down$/ })
  t.match(refusal({ phase: 'draining' }), { code: 'FST_HOT_RESTART_SHUTTING_DOWN', message: /draining or shutting down$/ })
  t.equal(code('closed', { predecessorDraining: '12' }), 'FST_HOT_RESTART_SHUTTING_DOWN')
  t.equal(code('upgrading', { predecessorDraining: '12' }), 'FST_HOT_RESTART_UPGRADE_IN_PROGRESS')
  t.equal(code('booting'), 'FST_HOT_RESTART_NOT_READY')
  t.match(refusal({ phase: 'restarting' }), { code: 'FST_HOT_RESTART_CRASH_RESTART', message: /a crashed generation is being restarted/ })
  t.match(refusal({ phase: 'serving', predecessorDraining: '12, 13' }), { code: 'FST_HOT_RESTART_PREDECESSOR_DRAINING', message: /pid 12, 13/ })
  t.equal(refusal({ phase: 'serving' }), undefined)
  t.equal(refusal({ phase: 'serving', platform: 'linux' }), undefined)
})

t.test('the attempt record: numbered, stamped, written after each change', async t => {
  let writes = 0
  const log = new AttemptLog(() => { writes++ })
  t.equal(log.next(), 1)
  log.record(1, { state: 'upgrading' })
  t.match(log.attempts[1], { state: 'upgrading', startedAt: Number, at: Number })
  t.equal(log.attempts[1]!.endedAt, undefined)
  log.record(1, { state: 'failed', code: 'X', message: 'm' })
  t.match(log.attempts[1], { state: 'failed', code: 'X', endedAt: Number })
  t.equal(log.next(), 2)
  t.equal(log.refused(2, refusal({ phase: 'booting' })!), 'FST_HOT_RESTART_NOT_READY')
  t.match(log.attempts[2], { state: 'refused', code: 'FST_HOT_RESTART_NOT_READY', message: /not ready/ })
  t.equal(log.attempt, 2)
  t.equal(writes, 3)
})
