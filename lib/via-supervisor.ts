/**
 * The predecessor's target under a supervisor (`run`): its connections go to the supervisor's
 * IPC channel, which relays each to the new generation (handover-relay.ts).
 *
 * Node sends one handle at a time on a channel, each once the receiver has acknowledged the one
 * before. The supervisor receives at once but passes each on only when the new generation has
 * acknowledged the previous one, so without a limit from end to end the connections queued in
 * the supervisor, unread: a request on one waited there (214.9 ms p99 in the bench's W1, against
 * 46.5 ms standalone). With credits, a connection counts as in flight (Handover's limit) until
 * the supervisor says it has passed it on (`relayed`), and the others wait in the predecessor,
 * which serves them meanwhile. A supervisor of older code never says so: credits are used only
 * when its drain order offers them (`relayCredits`).
 */
import type { HandoverTarget } from './handover'

/** A HandoverTarget that also hears the supervisor's `relayed` answers. */
export interface SupervisorTarget extends HandoverTarget {
  /** The supervisor has passed one connection on (or dropped it): the oldest waiting one is done. */
  relayed (): void
}

/**
 * The target on the supervisor's channel (`proc`). The raw handle is sent, not the net.Socket, so
 * that the supervisor does not read from it (see handover-relay.ts); it stays open here until it
 * has left, then the Handover closes it.
 * @param credits whether the supervisor answers `relayed` (its drain order's `relayCredits`): then
 *   a connection is done when it answers, else once its handle has left
 */
export function viaSupervisor (proc: Pick<NodeJS.Process, 'send'> & { once (name: 'disconnect', listener: () => void): unknown }, credits = false): SupervisorTarget {
  const waiting: Array<(err: Error | null) => void> = []
  // the supervisor has gone: no answer will come, every connection waiting is done
  proc.once('disconnect', () => {
    for (const done of waiting.splice(0)) done(null)
  })
  return {
    send (message, _socket, handle, done) {
      proc.send!(credits ? { ...message, credit: true } : message, handle as never, (err: Error | null) => {
        if (err !== null || !credits) done(err)
        else waiting.push(done)
      })
    },
    relayed () { waiting.shift()?.(null) }
  }
}
