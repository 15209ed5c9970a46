/**
 * systemd's notify protocol (sd_notify), used when NOTIFY_SOCKET is set: `READY=1` once
 * serving, `MAINPID=` the serving process in standalone mode (its pid changes on every
 * reload), `RELOADING=1` and `STOPPING=1` from the supervisor. Node cannot send on a unix
 * datagram socket, so this runs the `systemd-notify` binary; as the message then comes from
 * that helper's pid, a unit needs `NotifyAccess=all`.
 */
import { execFile } from 'node:child_process'

/** Logger calls it makes; a pino logger fits. */
export interface NotifyLogger {
  warn (obj: object, msg: string): void
}

/** Whether systemd listens for notifications (NOTIFY_SOCKET is set). */
export function systemdNotifies (env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NOTIFY_SOCKET !== undefined && env.NOTIFY_SOCKET !== ''
}

/**
 * Sends `assignments` (`READY=1`, `MAINPID=123`...) to systemd, if it listens. Never rejects: a
 * failure (no `systemd-notify` binary, no socket) is logged.
 * @returns a promise that settles once systemd-notify has exited
 */
export function notifySystemd (assignments: string[], log: NotifyLogger, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (!systemdNotifies(env)) return Promise.resolve()
  return new Promise(resolve => {
    execFile('systemd-notify', assignments, { env, timeout: 5000 }, (err, _stdout, stderr) => {
      if (err !== null) {
        log.warn({ event: 'systemd.failed', err: { message: err.message, code: err.code }, stderr: stderr.trim(), assignments, notifySocket: env.NOTIFY_SOCKET },
          'hot-restart: could not notify systemd (is systemd-notify installed?)')
      }
      resolve()
    })
  })
}

/** CLOCK_MONOTONIC in µs, as `MONOTONIC_USEC=` wants it (Node's hrtime is that clock on Linux). */
export function monotonicUsec (): string {
  return String(process.hrtime.bigint() / 1000n)
}
