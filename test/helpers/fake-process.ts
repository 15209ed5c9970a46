// Fake processes for the state machines' in-process tests (the process seam, lib/process-seam.ts):
// a successor or worker that the test steps by hand (ready, exit, killed), and this process's own
// side (signals, exit, the IPC channel to a predecessor or a supervisor).
import type { ChildProcess } from 'node:child_process'
import { EventEmitter } from 'node:events'
import type { Logger } from '../../lib/log'
import type { ProcessSeam, Spawn } from '../../lib/process-seam'

let nextPid = 900_000

/** A spawned process that does nothing until told: ready(), exit(), or killed. */
export class FakeChild extends EventEmitter {
  readonly pid: number | undefined
  readonly command: string
  readonly env: NodeJS.ProcessEnv
  connected = true
  exited = false
  /** What it was sent (the supervisor's orders), and the signals it got. */
  readonly sent: unknown[] = []
  readonly signals: string[] = []
  /** What it does when sent a message (a worker exits when told to drain or shut down). */
  onMessage: (message: { hotRestart?: string }) => void = () => {}
  /** Whether it exits when killed (a SIGTERM can be ignored; SIGKILL cannot). */
  ignoresTerm = false

  constructor (command: string, env: NodeJS.ProcessEnv, pid: number | undefined = nextPid++) {
    super()
    this.command = command
    this.env = env
    this.pid = pid
  }

  send (message: { hotRestart?: string }, ...rest: unknown[]): boolean {
    this.sent.push(message)
    const callback = rest.find(r => typeof r === 'function') as (() => void) | undefined
    setImmediate(() => { callback?.(); this.onMessage(message) })
    return true
  }

  kill (signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.signals.push(signal)
    if (!(signal === 'SIGTERM' && this.ignoresTerm)) setImmediate(() => this.exit(null, signal))
    return true
  }

  unref (): void {}

  /** Says ready, as a generation does once it listens. */
  ready (): void {
    this.emit('message', { hotRestart: 'ready', pid: this.pid })
  }

  /** Exits (its IPC channel closes first, as it usually does). */
  exit (code: number | null, signal: NodeJS.Signals | null = null): void {
    if (this.exited) return
    this.exited = true
    this.connected = false
    this.emit('disconnect')
    this.emit('exit', code, signal)
  }
}

/** A spawn that makes FakeChild processes; `next()` resolves with the next one spawned. */
export function fakeSpawn (): { spawn: Spawn, children: FakeChild[], next: () => Promise<FakeChild> } {
  const children: FakeChild[] = []
  let taken = 0
  const waiting: Array<(child: FakeChild) => void> = []
  const spawn = ((command: string, _args: readonly string[], options: { env?: NodeJS.ProcessEnv }) => {
    const child = new FakeChild(command, options.env ?? {})
    children.push(child)
    const waiter = waiting.shift()
    if (waiter !== undefined) { taken++; waiter(child) }
    return child as unknown as ChildProcess
  }) as Spawn
  const next = (): Promise<FakeChild> => {
    if (taken < children.length) return Promise.resolve(children[taken++]!)
    return new Promise(resolve => waiting.push(resolve))
  }
  return { spawn, children, next }
}

/** This process, faked: signals the test sends, exits it records, an IPC channel it drives. */
export interface FakeSelf extends ProcessSeam {
  /** Delivers a signal to the handlers installed. */
  signal (signal: NodeJS.Signals): void
  readonly exits: number[]
  /** Resolves with the next exit code. */
  exited: () => Promise<number>
  /** A message from the parent, over the IPC channel. */
  receive (message: object): void
  /** The parent has gone: the channel closes. */
  disconnect (): void
  /** What this process sent over its IPC channel. */
  readonly sentUp: Array<{ hotRestart?: string, id?: number }>
  readonly children: FakeChild[]
  next: () => Promise<FakeChild>
}

/**
 * @param env this process's environment (FASTIFY_HOT_RESTART_SUPERVISOR: a supervisor started it)
 * @param parent the parent's pid, with an open IPC channel, or none
 */
export function fakeSelf ({ env = {}, parent }: { env?: NodeJS.ProcessEnv, parent?: number } = {}): FakeSelf {
  const handlers = new Map<string, Set<() => void>>()
  const exits: number[] = []
  const exitWaiters: Array<(code: number) => void> = []
  const sentUp: Array<{ hotRestart?: string }> = []
  const proc = Object.assign(new EventEmitter(), {
    env,
    pid: process.pid,
    ppid: parent ?? 1,
    connected: parent !== undefined,
    channel: { unref () {}, ref () {} },
    send (message: { hotRestart?: string }, ...rest: unknown[]) {
      sentUp.push(message)
      const callback = rest.find(r => typeof r === 'function') as (() => void) | undefined
      if (callback !== undefined) setImmediate(callback)
      return true
    }
  })
  const { spawn, children, next } = fakeSpawn()
  return {
    platform: 'linux',
    proc: proc as unknown as NodeJS.Process,
    spawn,
    onSignal (signal, handler) {
      const set = handlers.get(signal) ?? new Set()
      handlers.set(signal, set)
      set.add(handler)
      return () => { set.delete(handler) }
    },
    exit (code) {
      exits.push(code)
      exitWaiters.shift()?.(code)
    },
    receive (message) { proc.emit('message', message) },
    disconnect () {
      proc.connected = false
      proc.emit('disconnect')
    },
    signal (signal) {
      for (const handler of handlers.get(signal) ?? []) handler()
    },
    exits,
    exited: () => new Promise(resolve => exitWaiters.push(resolve)),
    sentUp,
    children,
    next
  }
}

/** A line logged through fakeLogger. */
export type Line = { level: string, obj: Record<string, unknown>, msg: string }
/** A logger that keeps its lines; waitFor resolves with the first line of an event (from index `from`). */
export function fakeLogger (): Logger & { lines: Line[], waitFor: (event: string, from?: number) => Promise<Line> } {
  const lines: Line[] = []
  const waiting = new Set<() => void>()
  const at = (level: string) => (obj: object, msg: string) => {
    lines.push({ level, obj: obj as Record<string, unknown>, msg })
    for (const check of [...waiting]) check()
  }
  const waitFor = (event: string, from = 0): Promise<Line> => new Promise(resolve => {
    const check = (): void => {
      const line = lines.slice(from).find(l => l.obj.event === event)
      if (line !== undefined) { waiting.delete(check); resolve(line) }
    }
    waiting.add(check)
    check()
  })
  return { lines, waitFor, info: at('info'), warn: at('warn'), error: at('error') }
}
