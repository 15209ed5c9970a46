/**
 * A generation under the supervisor: its workers (`--workers N` processes of the app on the same
 * sockets) and how it starts, all or nothing. workers.ts spawns each process; this file decides
 * when a generation is ready (all its workers are) and what a failure undoes.
 */
import type { ChildProcess } from 'node:child_process'
import { SuccessorExitedError } from './errors'
import type { Held, SupervisorMessage } from './protocol'
import type { Successor } from './successor'

/** One process of the app. */
export interface Worker {
  child: ChildProcess
  pid: number
  generation: number
  /** The generation it serves in; set once it is ready. */
  group: Group | undefined
  exited: Promise<void>
  /** How it exited, once it has. */
  exit: { code: number | null, signal: NodeJS.Signals | null } | undefined
}

/** The ready workers of one reload (or of the first start), and the crash restarts that joined them. */
export interface Group {
  /** The generation number it started as (crash restarts that join it have the next ones). */
  generation: number
  workers: Set<Worker>
  /** The group it replaces, while that one drains. */
  predecessor: Group | undefined
}

/** What startGroup needs of the supervisor's processes (workers.ts's Workers). */
export interface GroupSpawner {
  /** The sockets held: what the serving generation listens on (none before generation 1 binds). */
  readonly sockets: Held[]
  /** The last generation number given. */
  started: number
  /** Processes per generation. */
  readonly count: number
  spawnWorker (generation: number, siblings: Set<Successor>, env: NodeJS.ProcessEnv): Promise<{ worker: Worker, received: Held[] }>
  adopt (received: Held[]): void
  send (worker: Worker, message: SupervisorMessage): void
}

/**
 * Spawns a generation of `spawner.count` workers with the environment `env`; resolves once all
 * are ready. If one fails, the others go too (the ready ones drain, as in a shutdown) and it
 * rejects with that failure. Then the sockets held are the ones the new generation serves.
 */
export async function startGroup (spawner: GroupSpawner, env: NodeJS.ProcessEnv): Promise<Group> {
  const generation = ++spawner.started
  const group: Group = { generation, workers: new Set(), predecessor: undefined }
  const ready: Array<{ worker: Worker, received: Held[] }> = []
  const siblings = new Set<Successor>()
  const spawnOne = (): Promise<void> => spawner.spawnWorker(generation, siblings, env).then(r => { ready.push(r) })
  try {
    // with no socket to inherit, the first worker binds alone; the others inherit from it
    if (spawner.sockets.length === 0) {
      await spawnOne()
      spawner.adopt(ready[0]!.received)
      ready[0]!.received = []
    }
    const rest = Array.from({ length: spawner.count - ready.length }, spawnOne)
    let failure: { err: unknown } | undefined
    await Promise.all(rest.map(booted => booted.catch((err: unknown) => {
      // the first failure is the generation's: the workers still booting are killed now
      if (failure !== undefined) return
      failure = { err }
      for (const sibling of siblings) void sibling.kill()
    })))
    if (failure !== undefined) throw failure.err
    // a worker that said ready and exited while the others booted
    const gone = ready.find(r => r.worker.exit !== undefined)
    if (gone !== undefined) {
      const { code, signal } = gone.worker.exit!
      throw new SuccessorExitedError(gone.worker.pid, signal === null ? `exited with code ${code}` : `was killed by ${signal}`,
        ': it had said ready, but a generation is ready once all its workers are, and the others were still booting')
    }
  } catch (err) {
    for (const { worker, received } of ready) {
      for (const { handle } of received) handle.close()
      spawner.send(worker, { hotRestart: 'shutdown' })
    }
    throw err
  }
  for (const [i, { worker, received }] of ready.entries()) {
    // what the new generation listens on is what the next one inherits
    if (i === 0 && received.length > 0) spawner.adopt(received)
    else for (const { handle } of received) handle.close()
    worker.group = group
    group.workers.add(worker)
  }
  return group
}
