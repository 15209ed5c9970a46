/**
 * The stable `event` field of this package's log lines. Tests and operators match on it; the
 * message text (`msg`) is for people and may change. An event is never renamed, only added.
 *
 * Logged by a generation (the upgrader, in every process of the app):
 *
 * | event                      | level | when |
 * | -------------------------- | ----- | ---- |
 * | `manifest.foreign`         | warn  | a manifest another process left is ignored; fresh sockets are bound |
 * | `manifest.orphaned`        | warn  | the predecessor died while this process booted: it serves the inherited sockets alone |
 * | `supervised`               | info  | this generation runs under a supervisor (`run`) |
 * | `sockets.activated`        | info  | generation 1 (standalone) serves a socket that systemd passed (`LISTEN_FDS`) |
 * | `sockets.unclaimed`        | info  | inherited sockets that no listen() claimed were closed |
 * | `ready`                    | info  | every app listens and the onListen hooks ran; the pid file names this process |
 * | `pid-file.failed`          | error | the pid file could not be written (the server serves on) |
 * | `status-file.failed`       | error | the status file could not be written (the state is unchanged) |
 * | `upgrade.refused`          | warn  | an upgrade was refused (`code` says why); nothing changed |
 * | `upgrade.started`          | info  | the successor was spawned (`successorPid`) |
 * | `upgrade.failed`           | error | the successor failed (`code`); this process serves on |
 * | `upgrade.ready`            | info  | the successor is ready; this process drains |
 * | `upgrade.aborted`          | info  | a shutdown stops the successor that was booting |
 * | `successor-nice.unavailable` | warn | `successorNice`: no right to raise a priority back; the successor boots at normal priority |
 * | `predecessor.exited`       | info  | this generation's predecessor has exited |
 * | `shutdown.started`         | info  | a shutdown starts (`signal`, or `why`: the supervisor's order or its exit) |
 * | `shutdown.error`           | error | an uncaught error shuts the process down |
 * | `stop.delayed`             | info  | a shutdown serves on for `stopDelay` ms (readiness 503, `Connection: close`) before the drain |
 * | `drain.forced`             | warn  | `drainTimeout` was reached; the remaining connections were closed |
 * | `app.close-failed`         | error | closing an app (`fastify.close()`) failed |
 * | `app.close-timeout`        | error | closing an app did not settle within `atExitTimeout` (`apps`); the process exits anyway |
 * | `exit`                     | info  | drained, hooks run, apps closed (`hotRestart.reason`: upgrade or shutdown) |
 * | `systemd.failed`           | warn  | `systemd-notify` failed |
 * | `protocol.rejected`        | warn  | a message of the wrong shape (or out of turn) was dropped |
 * | `standby.waiting`          | info  | a spare (`run --standby`) has booted; its listens wait for the supervisor's `go` (`bootMs`) |
 * | `standby.taking-over`      | info  | the spare was told `go`: it listens on the inherited sockets |
 *
 * Logged by the supervisor (`fastify-hot-restart run`), besides `protocol.rejected`:
 *
 * | event                        | level | when |
 * | ---------------------------- | ----- | ---- |
 * | `supervisor.starting`        | info  | the supervisor starts (`command`) |
 * | `supervisor.bound`           | info  | an address of `--listen` is bound |
 * | `supervisor.activated`       | info  | a socket that systemd passed (`LISTEN_FDS`) is taken as `--listen` would bind it |
 * | `supervisor.bind-failed`     | error | an address of `--listen` cannot be bound, or systemd's sockets cannot be used (exit 1) |
 * | `supervisor.worker-started`  | info  | a process of a generation was spawned (`generationPid`) |
 * | `supervisor.serving`         | info  | generation 1 is ready; the pid file names the supervisor |
 * | `supervisor.start-failed`    | error | generation 1 failed to start (exit 1) |
 * | `supervisor.reload.refused`  | warn  | a reload was refused (`code` says why) |
 * | `supervisor.watch.changed`   | info  | `--watch`: files changed (`files`); a reload follows |
 * | `supervisor.reload.started`  | info  | a reload starts (`trigger`) |
 * | `supervisor.reload.failed`   | error | the new generation failed (`code`); the serving one serves on |
 * | `supervisor.reload.ready`    | info  | the new generation serves; the previous one drains |
 * | `supervisor.roll.replaced`   | info  | `--rolling`: an old worker has exited, replaced by a ready new one (`step` of `of`) |
 * | `supervisor.crashed`         | error | a serving process exited unexpectedly; a restart follows |
 * | `supervisor.restarted`       | info  | a crashed process was replaced (`delayMs`, `downMs`) |
 * | `supervisor.restart.failed`  | error | a crash restart failed; another one follows, with backoff |
 * | `supervisor.gave-up`         | error | more than `--max-restarts` crashes within a minute (exit 1) |
 * | `supervisor.signal`          | info  | SIGTERM or SIGINT: a graceful stop (a second one kills) |
 * | `supervisor.stopping`        | info  | every process is told to shut down |
 * | `supervisor.forced`          | warn  | a second signal: every process is killed |
 * | `supervisor.stopped`         | info  | every process exited, sockets and pid file removed (`exitCode`) |
 * | `supervisor.status-file.failed` | error | the status file could not be written; the state is unchanged |
 * | `supervisor.rejected`        | warn  | a socket sent out of turn (after ready, or without its handle) was closed, not held |
 * | `supervisor.connection.dropped` | warn | a connection handed over could not reach the serving generation: closed |
 * | `standby.ready`              | info  | `--standby`: a spare stands by (`standbyPid`, `nice`: its CPU priority while it waits) |
 * | `standby.go`                 | info  | a serving process crashed: the spare takes over (`supervisor.restarted` follows, `standby: true`) |
 * | `standby.stale`              | info  | a reload serves: the spare of the previous code shuts down (a new one boots) |
 * | `standby.failed`             | error | a spare failed to boot or exited while it waited; another boots after `delayMs` |
 * | `standby.gave-up`            | error | spares failed more than `--max-restarts` times within a minute: none until the next reload |
 * | `standby.priority-failed`    | warn  | the spare's CPU priority could not be raised back before it took over |
 */
export type LogEvent =
  | 'manifest.foreign' | 'manifest.orphaned' | 'supervised' | 'sockets.activated' | 'sockets.unclaimed' | 'ready' | 'pid-file.failed'
  | 'status-file.failed' | 'upgrade.refused' | 'upgrade.started' | 'upgrade.failed' | 'upgrade.ready'
  | 'upgrade.aborted' | 'successor-nice.unavailable' | 'predecessor.exited' | 'shutdown.started' | 'shutdown.error' | 'stop.delayed' | 'drain.forced'
  | 'app.close-failed' | 'app.close-timeout' | 'exit' | 'systemd.failed' | 'protocol.rejected' | 'standby.waiting' | 'standby.taking-over'
  | 'supervisor.starting' | 'supervisor.bound' | 'supervisor.activated' | 'supervisor.bind-failed' | 'supervisor.worker-started'
  | 'supervisor.serving' | 'supervisor.start-failed' | 'supervisor.reload.refused'
  | 'supervisor.watch.changed' | 'supervisor.reload.started' | 'supervisor.reload.failed' | 'supervisor.reload.ready' | 'supervisor.roll.replaced'
  | 'supervisor.crashed' | 'supervisor.restarted' | 'supervisor.restart.failed' | 'supervisor.gave-up'
  | 'supervisor.signal' | 'supervisor.stopping' | 'supervisor.forced' | 'supervisor.stopped'
  | 'supervisor.rejected' | 'supervisor.status-file.failed' | 'supervisor.connection.dropped'
  | 'standby.ready' | 'standby.go' | 'standby.stale' | 'standby.failed' | 'standby.gave-up' | 'standby.priority-failed'
