/**
 * The two ways a generation runs, behind one interface, chosen once when the process starts
 * (start-mode.ts): standalone (standalone.ts: it spawns its own successor, writes the pid file,
 * tells systemd its MAINPID) or under a supervisor (supervised.ts: it asks the supervisor, which
 * spawns the next generation and orders the drain). The state machine (upgrader.ts) holds the
 * states, the refusals and the attempt record for both.
 */
import type { AtExitHooks } from './at-exit'
import type { Handover } from './handover'
import type { ResolvedOptions } from './options'
import type { AttemptStatus } from './pid-file'
import type { Predecessor } from './predecessor'
import type { DrainOrder, UpgradeResult } from './protocol'
import type { Listener, Sockets } from './sockets'

export type UpgraderState = 'booting' | 'serving' | 'upgrading' | 'draining' | 'closed'

/** An app served by this process: a Fastify instance or a node:http server. */
export interface Participant {
  /** For logs. */
  readonly name: string
  /** A socket opened by name, not an app: it does not keep the upgrader from being disposed of. */
  readonly socket?: boolean
  /** The server (or dgram socket) whose listen() it waits for, if known (a hot standby's spare stands by once each has asked, see spare.ts). */
  readonly server?: object
  /** Closes the app once drained (fastify.close()). */
  close (): Promise<void>
}

/** A successor that is ready, and when: what a hand-over's drain and exit line report. */
export interface ReadyOrder extends DrainOrder {
  /** performance.now() when the successor was ready. */
  readyAt: number
}

/** What a mode sees of the state machine. */
export interface Machine {
  readonly generation: number
  readonly state: UpgraderState
  /** True once it drains. */
  readonly draining: boolean
  /** True during the stop delay (see stop-delay.ts). */
  stopping: boolean
  readonly sockets: Sockets
  /** The servers of the apps that have not listened yet (undefined where not known). */
  readonly notListening: Array<object | undefined>
  readonly options: ResolvedOptions
  readonly drainHooks: AtExitHooks
  /** The successor is ready: drain, run the atExit hooks, close the apps, exit 0. */
  handOver (order: ReadyOrder, handover?: Handover): void
  /** Drains, runs the atExit hooks and closes the apps; resolves when done. */
  shutdown (): Promise<void>
  /** Flushes the log and ends the process. */
  exit (code: number): Promise<void>
}

/** An upgrade the machine has allowed; the mode runs it. */
export interface UpgradeContext {
  /** Records what became of this attempt (the status file). */
  record (status: AttemptStatus): void
  /** The successor that boots (a shutdown meanwhile kills it), or undefined once it has settled. */
  booting (successor: { readonly pid: number | undefined, kill (): Promise<void> } | undefined): void
}

export interface GenerationMode {
  /** The generation this process replaces, while it may be alive. */
  readonly predecessor: Predecessor | undefined
  /**
   * Starts what the mode listens to (the predecessor's connections; the supervisor's orders).
   * @returns a remover
   */
  start (machine: Machine): () => void
  /** Work to finish before anyone learns that this process is ready (systemd's MAINPID), if any. */
  beforeReady (): Promise<void> | undefined
  /** This process is ready: the files and messages that say so, before the predecessor hears it. */
  ready (machine: Machine): void
  /** Writes the attempt record where the CLI reads it (a status file), if this mode has one. */
  writeStatus (machine: Machine, attempt: number, attempts: Record<string, AttemptStatus>): void
  /** Runs an upgrade that the machine allowed; settles with its outcome. */
  upgrade (machine: Machine, context: UpgradeContext): Promise<UpgradeResult>
  /** The last generation has shut down: removes what it leaves behind (unix socket paths, pid file). */
  shutDown (listeners: Listener[]): void
}
