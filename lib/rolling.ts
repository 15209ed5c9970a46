/**
 * `run --workers N --rolling`: a reload that replaces the workers one at a time, for machines
 * where memory is tight. One new worker boots and says ready, then one old worker drains and
 * exits, then the next new worker boots: at most N + 1 processes of the app at any moment
 * (a plain reload has 2N: the N new ones are ready before the N old ones drain), for a reload
 * that takes about N boots and N drains instead of one of each.
 *
 * From the first new worker's ready, the new group is the one that serves: the connections an
 * old worker hands over as it drains go to the new workers, and an old worker that exits is no
 * crash. The new workers learn that their predecessor has exited once the last old one has.
 *
 * A new worker that fails to boot stops the roll there, and the reload fails with its error.
 * The old workers not yet replaced serve on, and so do the new ones already ready, as one group
 * (nothing older could be started again: the code on disk is the new one); the next reload
 * replaces them all. A stop during the roll ends it (rejected; the supervisor stops everything).
 */
import { workerEnv } from './env-file'
import { ShuttingDownError } from './errors'
import type { Logger } from './log'
import type { Held } from './protocol'
import type { Group } from './group'
import type { Workers } from './workers'

export interface RollHooks {
  /** The new group serves (from its first worker's ready): crash restarts and relayed connections go by it. */
  serving (group: Group): void
  /** Whether the supervisor stops: the roll then ends. */
  stopping (): boolean
  /** When the reload started (performance.now()). */
  started: number
  log: Logger
}

/**
 * Replaces the workers of `old` one at a time (see above); resolves with the new group once all
 * its workers are ready and every old worker has exited.
 * @throws the failure of a new worker (the roll then stops; the workers serving stay, as one
 * group given to `serving`), FST_HOT_RESTART_ENV_FILE before anything starts, or
 * FST_HOT_RESTART_SHUTTING_DOWN when the supervisor stops meanwhile
 */
export async function rollOver (workers: Workers, old: Group, hooks: RollHooks): Promise<Group> {
  const env = workerEnv(workers.options.envFile)
  const generation = ++workers.started
  const next: Group = { generation, workers: new Set(), predecessor: old }
  // what the first new worker serves is what the next reload inherits (as in spawnGroup)
  let kept: Held[] = []
  const checkStopping = (): void => {
    if (hooks.stopping()) throw new ShuttingDownError('stopping')
  }
  for (let step = 1; step <= workers.count; step++) {
    let booted: Awaited<ReturnType<Workers['spawnWorker']>>
    try {
      booted = await workers.spawnWorker(generation, undefined, env)
    } catch (err) {
      for (const { handle } of kept) handle.close()
      if (next.workers.size > 0 && !hooks.stopping()) serveTogether(workers, old, next)
      throw err
    }
    const { worker, received } = booted
    if (step === 1) kept = received
    else for (const { handle } of received) handle.close()
    worker.group = next
    next.workers.add(worker)
    checkStopping()
    if (step === 1) hooks.serving(next)
    // an old worker that crashed meanwhile has no successor to wait for
    const [replaced] = old.workers
    if (replaced === undefined) continue
    workers.draining.add(old)
    workers.send(worker, { hotRestart: 'predecessor', pid: replaced.pid })
    workers.send(replaced, { hotRestart: 'drain', successorPid: worker.pid, generation, signalToReadyMs: Math.round(performance.now() - hooks.started), relayCredits: true })
    await replaced.exited
    hooks.log.info({ event: 'supervisor.roll.replaced', step, of: workers.count, servingPid: worker.pid, replacedPid: replaced.pid, generation },
      `hot-restart supervisor: rolling reload: worker ${step} of ${workers.count} replaced`)
    checkStopping()
  }
  if (kept.length > 0) workers.adopt(kept)
  return next
}

/**
 * The roll stopped midway: the old workers not yet replaced join the new group, which serves;
 * nothing drains any more, so the new workers are told that their predecessor is done.
 */
function serveTogether (workers: Workers, old: Group, next: Group): void {
  workers.draining.delete(old)
  for (const worker of next.workers) workers.send(worker, { hotRestart: 'predecessor-exited' })
  for (const worker of old.workers) {
    worker.group = next
    next.workers.add(worker)
  }
  old.workers.clear()
  next.predecessor = undefined
}
