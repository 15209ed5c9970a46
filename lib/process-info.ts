/**
 * What the kernel says about a process, from /proc (Linux): whether it runs or is a zombie, its
 * start time, its owner. Elsewhere (no /proc) each answer is "unknown" and the callers fall back
 * to what `kill(pid, 0)` can tell.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'

const procfs = existsSync('/proc/self/stat')

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces and parens). */
function statFields (pid: number): string[] | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  return text.slice(text.lastIndexOf(')') + 2).split(' ')
}

/**
 * When the process started, in clock ticks since boot (field 22 of /proc/<pid>/stat): with the
 * pid, it names one process for as long as the machine runs, where a pid alone may be reused.
 * @returns undefined when the process does not exist or there is no /proc
 */
export function processStart (pid: number): string | undefined {
  return statFields(pid)?.[19]
}

/**
 * Whether `pid` is a running process: not when it does not exist, nor when it has exited and
 * waits to be reaped (a zombie, state Z; where nothing reaps, as in a container without an
 * init, it stays one). A process of another user counts as running.
 */
export function isRunning (pid: number): boolean {
  const state = statFields(pid)?.[0]
  if (state !== undefined) return state !== 'Z' && state !== 'X'
  if (procfs) return false
  /* c8 ignore start: without /proc (macOS, BSD) only kill(pid, 0) can tell */
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  /* c8 ignore stop */
}

/**
 * The user that owns `pid` (the owner of /proc/<pid>).
 * @returns undefined when unknown
 */
export function processOwner (pid: number): number | undefined {
  try {
    return statSync(`/proc/${pid}`).uid
  } catch {
    return undefined
  }
}
