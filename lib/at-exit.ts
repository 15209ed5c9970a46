/**
 * Hooks that run once, concurrently, each isolated (an error is logged with the hook's index),
 * all of them together bounded by one timeout. Used for the `atExit` hooks (after the drain,
 * before `fastify.close()`) and the `onDrain` hooks (when the drain starts).
 */

import { InvalidOptionError } from './errors'
import { describe } from './options'

/** A cleanup hook. It may return a promise. */
export type AtExitHook = () => unknown

/**
 * Checks a hook given to `atExit()` or `onDrain()`.
 * @throws FST_HOT_RESTART_INVALID_OPTION
 */
export function checkHook (kind: string, fn: unknown): AtExitHook {
  if (typeof fn !== 'function') throw new InvalidOptionError(`Expected the ${kind} hook to be a function, got ${describe(fn)}`)
  return fn as AtExitHook
}

/** Logger calls the hooks make; a pino logger fits. */
export interface AtExitLogger {
  error (obj: object, msg: string): void
}

/** What running the hooks gave. */
export interface AtExitReport {
  /** How many hooks ran. */
  ran: number
  /** Indexes of the hooks that threw or rejected. */
  failed: number[]
  /** Indexes of the hooks that had not settled at the timeout. */
  timedOut: number[]
}

export class AtExitHooks {
  private readonly hooks: Array<{ fn: AtExitHook }> = []
  private ran = false
  private readonly kind: string
  private readonly timeoutOption: string

  /**
   * @param kind the hooks' name in logs, e.g. `atExit`
   * @param timeoutOption the option that bounds them, for logs
   */
  constructor (kind = 'atExit', timeoutOption = 'atExitTimeout') {
    this.kind = kind
    this.timeoutOption = timeoutOption
  }

  /**
   * Registers a hook.
   * @returns a function that unregisters it (a no-op once the hooks ran)
   */
  add (fn: AtExitHook): () => void {
    const entry = { fn }
    this.hooks.push(entry)
    return () => {
      const i = this.hooks.indexOf(entry)
      if (i !== -1) this.hooks.splice(i, 1)
    }
  }

  /**
   * Runs every hook at once (they are independent), each isolated; resolves when all settled or
   * at `timeout` ms, whichever comes first. Runs at most once; later calls report nothing ran.
   */
  async run (timeout: number, log: AtExitLogger): Promise<AtExitReport> {
    if (this.ran) return { ran: 0, failed: [], timedOut: [] }
    this.ran = true
    const hooks = this.hooks.splice(0)
    const failed: number[] = []
    const pending = new Set(hooks.map((_, i) => i))
    const all = Promise.all(hooks.map(async ({ fn }, index) => {
      try {
        await fn()
      } catch (err) {
        failed.push(index)
        log.error({ err, hook: index, name: fn.name || undefined }, `hot-restart: ${this.kind} hook ${index} failed`)
      } finally {
        pending.delete(index)
      }
    }))
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<void>(resolve => { timer = setTimeout(resolve, timeout) })
    await Promise.race([all, timedOut])
    clearTimeout(timer)
    const late = [...pending]
    for (const index of late) {
      log.error({ hook: index, name: hooks[index]!.fn.name || undefined, [this.timeoutOption]: timeout },
        `hot-restart: ${this.kind} hook ${index} did not settle within ${this.timeoutOption}`)
    }
    return { ran: hooks.length, failed: failed.sort((a, b) => a - b), timedOut: late }
  }
}

/** A piece of closing work, named for logs. */
export interface Closer {
  readonly name: string
  close (): Promise<void>
}

/**
 * Closes each of `closers` at once, each isolated (`onError` is told of a failure), and gives up
 * waiting at `timeout` ms: an app whose close never settles (an onClose hook stuck on an
 * unreachable database) must not keep a process alive that has nothing left to serve.
 * @returns the names of those that had not settled at the timeout
 */
export async function closeWithin (closers: Iterable<Closer>, timeout: number, onError: (err: unknown, name: string) => void): Promise<string[]> {
  const pending = new Set<Closer>(closers)
  const all = Promise.all([...pending].map(async closer => {
    try {
      await closer.close()
    } catch (err) {
      onError(err, closer.name)
    } finally {
      pending.delete(closer)
    }
  }))
  let timer: NodeJS.Timeout | undefined
  await Promise.race([all, new Promise<void>(resolve => { timer = setTimeout(resolve, timeout) })])
  clearTimeout(timer)
  return [...pending].map(closer => closer.name)
}
