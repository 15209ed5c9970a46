/**
 * Every error this package raises, each with a code under one prefix:
 * `FST_HOT_RESTART_`. Errors that describe a failed upgrade carry the details in `cause`
 * (exit code, signal, the successor's first error line) as well as in the message.
 */
import createError from '@fastify/error'

const P = 'FST_HOT_RESTART_'

/** An option given to the plugin or to `hotRestart()` is invalid. Thrown at register time. */
export const InvalidOptionError = createError<`${typeof P}INVALID_OPTION`, [string]>(
  `${P}INVALID_OPTION`, 'fastify-hot-restart: %s')

/** Reloading needs POSIX fd passing and signals; the platform has neither. */
export const NotSupportedError = createError(
  `${P}NOT_SUPPORTED`, 'fastify-hot-restart: %s is not supported on %s')

/** An upgrade was requested while another is running. */
export const UpgradeInProgressError = createError(
  `${P}UPGRADE_IN_PROGRESS`, 'fastify-hot-restart: an upgrade is already in progress')

/** An upgrade was requested before this process finished booting (listen + onListen). */
export const NotReadyError = createError(
  `${P}NOT_READY`, 'fastify-hot-restart: this process is not ready yet (it has not finished listening)')

/** A reload was requested while the supervisor restarts a generation that crashed. */
export const CrashRestartError = createError(
  `${P}CRASH_RESTART`, 'fastify-hot-restart: a crashed generation is being restarted; retry once it serves')

/** An upgrade was requested while this process's own predecessor is still draining. */
export const PredecessorDrainingError = createError(
  `${P}PREDECESSOR_DRAINING`, 'fastify-hot-restart: the predecessor (pid %s) is still draining; retry once it has exited')

/** An upgrade was requested while this process is draining or shutting down. */
export const ShuttingDownError = createError(
  `${P}SHUTTING_DOWN`, 'fastify-hot-restart: this process is %s')

/** The successor exited (or could not be started) before it said it was ready. */
export const SuccessorExitedError = createError(
  `${P}SUCCESSOR_EXITED`, 'fastify-hot-restart: the successor (pid %s) %s before it was ready%s')

/** The successor did not say it was ready within `readyTimeout`; it was killed. */
export const SuccessorTimeoutError = createError(
  `${P}SUCCESSOR_TIMEOUT`, 'fastify-hot-restart: the successor (pid %s) was not ready within %s ms and was killed')

/**
 * The app's warm-up (option `warmup`) threw or rejected: the app does not listen. In a successor
 * the upgrade fails (the predecessor serves on and reports this error's first line).
 */
export const WarmupFailedError = createError<`${typeof P}WARMUP_FAILED`, [string]>(
  `${P}WARMUP_FAILED`, 'fastify-hot-restart: the warm-up (option `warmup`) failed, so the app does not listen: %s')

/** The manifest handed over by a predecessor is malformed or does not match the fds. */
export const BadManifestError = createError(
  `${P}BAD_MANIFEST`, 'fastify-hot-restart: cannot use the sockets handed over by the predecessor: %s')

/** The sockets systemd passed (socket activation: LISTEN_FDS) cannot be used. Thrown at register time. */
export const SocketActivationError = createError<`${typeof P}SOCKET_ACTIVATION`, [string]>(
  `${P}SOCKET_ACTIVATION`, 'fastify-hot-restart: cannot use the sockets systemd passed: %s')

/** A named socket was opened once the process was ready: its successor could not hand it over in time. */
export const SocketTooLateError = createError(
  `${P}SOCKET_TOO_LATE`, 'fastify-hot-restart: open the socket "%s" before the app listens (this process is %s already)')

/** The pid file cannot be written. */
export const PidFileError = createError(
  `${P}PID_FILE`, 'fastify-hot-restart: cannot write the pid file %s: %s')

/** A generation started by a supervisor (`fastify-hot-restart run`) found it gone while it booted. */
export const SupervisorExitedError = createError(
  `${P}SUPERVISOR_EXITED`, 'fastify-hot-restart: the supervisor (pid %s) that started this process has exited; not serving without it')

/**
 * A file the library reads or replaces (pid file, status file) is not what it must be: a regular
 * file of a trusted owner, of a few kB. A FIFO, device, symlink or folder there (planted by
 * another user in a shared folder) is refused rather than opened, followed or replaced.
 */
export const UnsafeFileError = createError(
  `${P}UNSAFE_FILE`, 'fastify-hot-restart: refusing to use %s: %s')

/**
 * `run --env-file`: the file cannot be read, or a line of it is not `NAME=value` (the message
 * names the file and the line). It fails that generation's start and changes nothing else.
 */
export const EnvFileError = createError<`${typeof P}ENV_FILE`, [string, string]>(
  `${P}ENV_FILE`, 'fastify-hot-restart: cannot use the environment file %s: %s')
