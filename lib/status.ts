/**
 * `fastify-hot-restart status --pid-file <path> [--json]`: who serves, since when, what became
 * of the last upgrades, and what still drains, from the pid file and its status file (written
 * by the server: pid-file.ts) plus what /proc tells of each process's open connections.
 */
import { parseOptions, UsageError } from './args'
import { openConnections } from './connections'
import type { AttemptStatus, Status } from './pid-file'
import { isRunning } from './process-info'
import { findServer, NoServerError } from './target'

export const STATUS_HELP = `  fastify-hot-restart status --pid-file <path> [--json]
`

export const STATUS_DESCRIPTION = `status  Shows the serving pid(s), generation, state, uptime, the last upgrade attempts (outcome,
        reason, timings) and the processes still draining, with their open connections
        (Linux). --json prints the same as one JSON object. Exit 0 when a server is
        serving, 3 when none is (the reason is printed, in the JSON too).
`

/** A process and its open connections (null where /proc cannot tell). */
export interface ProcessReport { pid: number, connections: number | null }

/** One attempt, newest first in the report. */
export interface AttemptReport extends AttemptStatus {
  /** From the start to the end of the attempt (ms); absent while it runs. */
  durationMs?: number
}

/** What `status --json` prints. */
export type StatusReport = {
  pidFile: string
  running: true
  /** The pid in the pid file: the server, or its supervisor. */
  pid: number
  supervised: boolean
  serving: ProcessReport[]
  generation: number
  state: string
  since: string | null
  uptimeMs: number | null
  draining: ProcessReport[]
  attempts: AttemptReport[]
} | { pidFile: string, running: false, problem: string }

/** Exit codes of `status` (as the other commands': see cli.ts). */
const OK = 0
const USAGE = 2
const NO_SERVER = 3

const withConnections = (pid: number): ProcessReport => ({ pid, connections: openConnections(pid) ?? null })

/** Reads what the pid file and its status file say; `problem` when no server serves. */
export function report (pidFile: string, now = Date.now()): StatusReport {
  let pid: number
  let status: Status
  try {
    // as reload and stop find it (target.ts): the same checks, the same reasons
    ({ pid, status } = findServer(pidFile))
  } catch (err) {
    /* c8 ignore next */
    if (!(err instanceof NoServerError)) throw err
    return { pidFile, running: false, problem: err.message }
  }
  const supervised = status.servingPids !== undefined
  const own = Object.keys(status.attempts).map(Number).sort((a, b) => a - b).map(key => ({ pid, ...status.attempts[key] as AttemptStatus }))
  const attempts = [...(status.history ?? []), ...own].reverse().map(attempt => ({
    ...attempt,
    ...(attempt.startedAt !== undefined && attempt.endedAt !== undefined ? { durationMs: attempt.endedAt - attempt.startedAt } : {})
  }))
  return {
    pidFile,
    running: true,
    pid,
    supervised,
    serving: (status.servingPids ?? [pid]).map(withConnections),
    generation: status.generation,
    state: state(status, own),
    since: status.since === undefined ? null : new Date(status.since).toISOString(),
    uptimeMs: status.since === undefined ? null : now - status.since,
    draining: (status.draining ?? []).filter(isRunning).map(withConnections),
    attempts
  }
}

function state (status: Status, own: AttemptStatus[]): string {
  // a supervisor writes its state; a server is upgrading while its newest attempt is
  if (status.state !== undefined) return status.state === 'reloading' ? 'upgrading' : status.state
  return own.at(-1)?.state === 'upgrading' ? 'upgrading' : 'serving'
}

/** `1h 2m 3s`, `4m 5s`, `6s`. */
export function duration (ms: number): string {
  const s = Math.floor(ms / 1000)
  const parts = [[Math.floor(s / 86400), 'd'], [Math.floor(s / 3600) % 24, 'h'], [Math.floor(s / 60) % 60, 'm'], [s % 60, 's']] as const
  const first = parts.findIndex(([n]) => n > 0)
  return first === -1 ? `${ms} ms` : parts.slice(first).map(([n, unit]) => `${n}${unit}`).join(' ')
}

const connections = ({ pid, connections }: ProcessReport): string =>
  `pid ${pid}${connections === null ? '' : `, ${connections} open connection${connections === 1 ? '' : 's'}`}`

function describeAttempt (a: AttemptReport): string {
  const when = a.startedAt === undefined ? '' : `${new Date(a.startedAt).toISOString()}  `
  const who = a.successorPid === undefined ? '' : `, successor pid ${a.successorPid}`
  const generation = a.generation === undefined ? '' : `, generation ${a.generation}`
  const took = a.durationMs === undefined ? '' : `, ${a.durationMs} ms`
  const why = a.message === undefined ? '' : `: ${a.message} (${a.code})`
  return `  ${when}${a.state.padEnd(9)} ${a.pid === undefined ? '' : `by pid ${a.pid}`}${who}${generation}${took}${why}\n`
}

/** The report, for people. */
export function format (r: StatusReport): string {
  if (!r.running) return `not running: ${r.problem}\n`
  const lines = [
    ...(r.supervised ? [`supervisor  pid ${r.pid}`] : []),
    `serving     ${r.serving.length === 0 ? 'nothing' : r.serving.map(connections).join('; ')}`,
    `generation  ${r.generation}`,
    `state       ${r.state}`,
    `up          ${r.uptimeMs === null ? 'unknown' : `${duration(r.uptimeMs)} (since ${r.since})`}`,
    `draining    ${r.draining.length === 0 ? 'nothing' : r.draining.map(connections).join('; ')}`,
    /* c8 ignore next: the people's form of a status with no attempt is not shown by the tests */
    `attempts    ${r.attempts.length === 0 ? 'none yet' : '(newest first)'}`
  ]
  return `${lines.join('\n')}\n${r.attempts.map(describeAttempt).join('')}`
}

/**
 * Runs `status`.
 * @returns the exit code: 0 serving, 2 bad arguments, 3 no server serves from that pid file
 */
export function status (argv: string[], io: { out: { write (s: string): unknown }, err: { write (s: string): unknown } }): number {
  let values
  try {
    ({ values } = parseOptions('status', argv, { 'pid-file': { type: 'string', value: '<path>' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }))
    if (values.help === true) {
      io.out.write(`Usage:\n${STATUS_HELP}\n${STATUS_DESCRIPTION}`)
      return OK
    }
    if (typeof values['pid-file'] !== 'string' || values['pid-file'] === '') throw new UsageError('missing --pid-file <path>')
  } catch (err) {
    io.err.write(`${(err as Error).message}\n\nUsage:\n${STATUS_HELP}`)
    return USAGE
  }
  const r = report(values['pid-file'] as string)
  if (values.json === true) io.out.write(`${JSON.stringify(r, null, 2)}\n`)
  else (r.running ? io.out : io.err).write(format(r))
  return r.running ? OK : NO_SERVER
}
