/**
 * Booting a successor at a lower CPU priority (option `successorNice`), so that its boot does
 * not take CPU from the process that still serves, and raising it back once it is ready.
 *
 * Two facts of Linux shape it:
 * - a nice value belongs to a thread: `setpriority(pid)` changes the thread whose id is `pid`
 *   (the main thread), and a thread starts with its creator's. So every thread the successor
 *   has is set (`/proc/<pid>/task`), the main one first: the threads it creates after inherit.
 * - anyone may lower a priority, but raising one back needs root, CAP_SYS_NICE or a
 *   RLIMIT_NICE that allows it (systemd `LimitNICE=`). Without that right the successor would
 *   serve at the lower priority for good, so it is not lowered at all (and that is logged).
 */
import { readdirSync } from 'node:fs'
import os from 'node:os'
import type { Logger } from './log'

/** What this module needs of the OS (a fake one in tests). */
export interface PrioritySeam {
  /** The nice value of a thread or process; 0: the calling thread. */
  get (pid: number): number
  /** Sets the nice value of a thread or process; 0: the calling thread. */
  set (pid: number, priority: number): void
  /** The threads of a process (its pid alone where /proc does not list them). */
  threads (pid: number): number[]
}

export const realPriority: PrioritySeam = {
  get: (pid) => os.getPriority(pid),
  set: (pid, priority) => os.setPriority(pid, priority),
  threads (pid) {
    try {
      return readdirSync(`/proc/${pid}/task`).map(Number)
      /* c8 ignore start: no /proc (not Linux), or the process exited just after its main thread was set */
    } catch {
      return [pid]
    }
    /* c8 ignore stop */
  }
}

/**
 * Whether this process may raise a priority back (lower a nice value): tried on the calling
 * thread, one step up and back, which changes nothing when it is refused.
 */
export function canRaisePriority (seam: PrioritySeam = realPriority): boolean {
  const own = seam.get(0)
  // only a process with the right gets to -20
  if (own <= -20) return true
  try {
    seam.set(0, own - 1)
    seam.set(0, own)
    return true
  } catch {
    return false
  }
}

/** Sets every thread of `pid`, the main one first; a thread that exits meanwhile is skipped. */
function setAll (seam: PrioritySeam, pid: number, priority: number): void {
  seam.set(pid, priority)
  for (const tid of seam.threads(pid)) {
    if (tid === pid) continue
    try { seam.set(tid, priority) } catch /* c8 ignore next: a thread that exited */ {}
  }
}

/**
 * Lowers the CPU priority of the process `pid` (just spawned) by `nice` below this process's
 * (a nice value at most 19).
 * @returns a function that raises it back to this process's, or undefined when nothing was
 * lowered (`nice` 0, no right to raise it back, the process already gone)
 */
export function lowerPriority (pid: number, nice: number, log: Logger | undefined, seam: PrioritySeam = realPriority): (() => void) | undefined {
  if (nice === 0) return undefined
  const own = seam.get(0)
  if (!canRaisePriority(seam)) {
    log?.warn({ event: 'successor-nice.unavailable', successorNice: nice },
      'hot-restart: successorNice needs the right to raise a priority back (root, CAP_SYS_NICE or RLIMIT_NICE: systemd LimitNICE=); the successor boots at normal priority')
    return undefined
  }
  try {
    setAll(seam, pid, Math.min(19, own + nice))
  } catch {
    // gone already: its boot fails on its own
    return undefined
  }
  return () => {
    try { setAll(seam, pid, own) } catch /* c8 ignore next: it exited as it became ready */ {}
  }
}
