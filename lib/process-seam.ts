/**
 * What the core needs of the operating system, behind one seam (as tableflip's `env`): start a
 * process (and, through the handle it returns, signal and kill it), learn of a signal, exit; and
 * this process's own side of the IPC channel (its environment, parent pid, `send`, 'message' and
 * 'disconnect'). The upgrader and the supervisor take it as an argument, so that tests step their
 * state machines with fake processes, in-process, in milliseconds.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'

/** Starts a process, with node:child_process `spawn`'s contract (it may throw, or emit 'error'). */
export type Spawn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess

export interface ProcessSeam {
  readonly platform: NodeJS.Platform
  /** This process: environment, parent pid and IPC channel. */
  readonly proc: NodeJS.Process
  readonly spawn: Spawn
  /**
   * Calls `handler` on each `signal` this process receives.
   * @returns a remover
   */
  onSignal (signal: NodeJS.Signals, handler: () => void): () => void
  /** Ends this process. */
  exit (code: number): void
}

/** The real process. */
export const realProcess: ProcessSeam = {
  platform: process.platform,
  proc: process,
  spawn: (command, args, options) => spawn(command, args, options),
  onSignal (signal, handler) {
    process.on(signal, handler)
    return () => { process.removeListener(signal, handler) }
  },
  exit: (code) => process.exit(code)
}
