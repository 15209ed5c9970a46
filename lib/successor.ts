/**
 * The predecessor's handle on the successor it spawns: spawn it with the listening fds and the
 * manifest, wait until it says it is ready, exits, or runs out of time; kill it on failure and
 * wait for its exit, so that no zombie and no fd is left behind.
 */
import { ChildProcess, spawn as spawnProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { SuccessorExitedError, SuccessorTimeoutError } from './errors'
import type { Logger } from './log'
import { successorEnv, type Manifest } from './manifest'
import { lowerPriority, type PrioritySeam } from './priority'
import type { Spawn } from './process-seam'
import { readGenerationMessage } from './protocol'

/** How long a successor that is being killed gets between SIGTERM and SIGKILL. */
export const KILL_GRACE = 2000

export interface SpawnOptions {
  /** The sockets handed over; none for a supervisor's first generation, which binds its own. */
  manifest: Manifest | undefined
  /** The working directory when there is no manifest. @default process.cwd() */
  cwd?: string
  /** The listening fds, in manifest order. */
  fds: number[]
  readyTimeout: number
  /** The command to run; defaults to this process's own (execPath, execArgv, argv). */
  execPath?: string
  args?: string[]
  env?: NodeJS.ProcessEnv
  /** Where a message of the wrong shape from the successor is reported (it is then dropped). */
  log?: Logger
  /** Starts the process (a fake one in tests). @default node:child_process spawn */
  spawn?: Spawn
  /**
   * How much lower than this process's its CPU priority is until it is ready (nice values;
   * see priority.ts). @default 0
   */
  nice?: number
  /** Reads and sets priorities (a fake in tests). @default os.getPriority, os.setPriority */
  priority?: PrioritySeam
  /** A hot standby's spare (standby.ts): `ready` resolves once it stands by. */
  standby?: boolean
}

export interface Successor {
  readonly pid: number | undefined
  readonly process: ChildProcess
  /**
   * Resolves once the successor said it is ready (with its own `successorNice` option, if set);
   * rejects with a coded error otherwise.
   */
  readonly ready: Promise<{ pid: number, readyMs: number, successorNice?: number }>
  /** Kills the successor (SIGTERM, then SIGKILL after KILL_GRACE) and resolves once it exited. */
  kill (): Promise<void>
}

function describeExit (code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `was killed by ${signal}` : `exited with code ${code}`
}

/**
 * Why a spawn failed, in words: libuv reports a missing working directory as the command's
 * ENOENT (`spawn /usr/bin/node ENOENT`), which sends the reader after node.
 */
function notStarted (spawnError: unknown, cwd: string | undefined): string {
  if ((spawnError as NodeJS.ErrnoException).code === 'ENOENT' && cwd !== undefined && !existsSync(cwd)) {
    return `could not be started: its working directory ${cwd} does not exist (the first generation's folder, re-resolved at each reload)`
  }
  return `could not be started (${(spawnError as Error).message})`
}

/** Spawns the successor and follows it until it is ready or has failed. */
export function spawnSuccessor (options: SpawnOptions): Successor {
  const started = performance.now()
  const execPath = options.execPath ?? process.execPath
  const args = options.args ?? [...process.execArgv, ...process.argv.slice(1)]
  const cwd = options.manifest?.cwd ?? options.cwd
  let child: ChildProcess
  try {
    child = (options.spawn ?? spawnProcess)(execPath, args, {
      cwd,
      env: successorEnv(options.env ?? process.env, options.manifest),
      stdio: ['inherit', 'inherit', 'inherit', ...options.fds, 'ipc'],
      serialization: 'json'
    })
  } catch (spawnError) {
    // some failures throw at once rather than emit 'error' (E2BIG: an environment or argument
    // too large; ENOMEM): the same failed boot, so the caller goes back to serving
    const err = new SuccessorExitedError(undefined, notStarted(spawnError, cwd), '')
    err.cause = spawnError
    return { pid: undefined, process: new ChildProcess(), ready: Promise.reject(err), kill: async () => {} }
  }
  // before it loads anything: its boot runs at the lower priority
  const raise = child.pid === undefined ? undefined : lowerPriority(child.pid, options.nice ?? 0, options.log, options.priority)
  let exited = false
  let firstError: string | undefined
  const exit = new Promise<void>(resolve => {
    child.once('exit', () => { exited = true; resolve() })
    child.once('error', () => { if (child.pid === undefined) { exited = true; resolve() } })
  })

  const kill = async (): Promise<void> => {
    if (exited) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE)
    await exit
    clearTimeout(timer)
  }

  const ready = new Promise<{ pid: number, readyMs: number, successorNice?: number }>((resolve, reject) => {
    let settled = false
    let successorNice: number | undefined
    const finish = (err: Error | undefined): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      child.removeListener('message', onMessage)
      if (err === undefined) {
        // it serves: at the same priority as the process it replaces
        raise?.()
        resolve({ pid: child.pid as number, readyMs: Math.round(performance.now() - started), ...(successorNice !== undefined && { successorNice }) })
      } else {
        // the error is reported once the successor is gone, so that nothing it holds outlives it
        void kill().then(() => reject(err))
      }
    }
    const onMessage = (raw: unknown): void => {
      const reading = readGenerationMessage(raw)
      if (reading === undefined) return
      if ('rejected' in reading) {
        options.log?.warn({ event: 'protocol.rejected', from: 'successor', successorPid: child.pid, why: reading.rejected },
          `hot-restart: ignored a message from the successor: ${reading.rejected}`)
        return
      }
      const message = reading.message
      if (message.hotRestart === 'ready') {
        successorNice = message.successorNice
        finish(undefined)
      }
      if (message.hotRestart === 'standing-by' && options.standby === true) finish(undefined)
      if (message.hotRestart === 'error' && firstError === undefined) firstError = message.message.split('\n')[0]
    }
    const timer = setTimeout(() => {
      finish(new SuccessorTimeoutError(child.pid, options.readyTimeout))
    }, options.readyTimeout)
    child.on('message', onMessage)
    child.once('exit', (code, signal) => {
      const report = (): void => {
        const why = firstError === undefined ? '' : `: ${firstError}`
        const err = new SuccessorExitedError(child.pid, describeExit(code, signal), why)
        err.cause = { exitCode: code, signal, firstError }
        finish(err)
      }
      // what the successor wrote to the channel before dying is read before the channel closes;
      // the channel usually closes before 'exit', but the order is not guaranteed
      if (!child.connected) return report()
      /* c8 ignore start */
      child.once('disconnect', report)
      setTimeout(report, 1000).unref()
      /* c8 ignore stop */
    })
    child.once('error', (spawnError) => {
      // an error after the spawn (a failed kill or send) is not a boot failure
      /* c8 ignore next */
      if (child.pid !== undefined) return
      const err = new SuccessorExitedError(undefined, notStarted(spawnError, cwd), '')
      err.cause = spawnError
      finish(err)
    })
  })

  return {
    get pid () { return child.pid },
    process: child,
    ready,
    kill
  }
}
