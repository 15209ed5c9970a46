/**
 * A hot standby's spare, on its own side (`run --standby`; the supervisor's side is standby.ts):
 * a generation that boots completely (every plugin loaded, the app ready) but does not accept
 * until the supervisor says `go`. Each listen() (and named UDP bind) is parked at the point where
 * it would start accepting, so the serving generation alone takes the connections; once every app
 * has asked to listen, the spare tells the supervisor it stands by. On `go` the parked listens run,
 * in order, on the inherited sockets: the apps listen, their onListen hooks run and the spare says
 * `ready` as any generation does, some milliseconds later instead of a whole boot.
 */
import type dgram from 'node:dgram'
import type net from 'node:net'
import type { Logger } from './log'
import type { Machine } from './mode'
import { readSupervisorMessage, STANDBY_ENV } from './protocol'

/**
 * In a spare (the supervisor sets STANDBY_ENV; it is removed once read, so that the app's own
 * children do not see it), parks every listen until the supervisor's `go`. Elsewhere, nothing.
 * @returns a remover
 */
export function standBy (machine: Pick<Machine, 'sockets' | 'notListening' | 'generation'>, log: Logger, proc: NodeJS.Process = process): () => void {
  if (proc.env[STANDBY_ENV] !== '1') return () => {}
  delete proc.env[STANDBY_ENV]
  const parked: Array<() => void> = []
  const asked = new Set<net.Server | dgram.Socket>()
  let standing = false
  const { sockets } = machine
  sockets.park = (server, listen) => {
    // with nothing listening, the channel alone keeps the process alive while it waits
    proc.channel?.ref()
    parked.push(listen)
    asked.add(server)
    // every app has asked to listen (one whose server is not known: any listen will do)
    if (standing || !machine.notListening.every(s => s === undefined || asked.has(s as net.Server))) return
    standing = true
    // from the process's start: the boot that a takeover does not wait for
    const bootMs = Math.round(performance.now())
    log.info({ event: 'standby.waiting', generation: machine.generation, bootMs }, 'hot-restart: booted as a spare; waiting for the supervisor\'s "go" to listen')
    // with a callback, a closed channel (the supervisor died meanwhile) is no uncaught 'error'
    proc.send?.({ hotRestart: 'standing-by', pid: proc.pid }, undefined as never, () => {})
  }
  const onMessage = (raw: unknown): void => {
    const reading = readSupervisorMessage(raw)
    if (reading === undefined || !('message' in reading) || reading.message.hotRestart !== 'go') return
    stop()
    log.info({ event: 'standby.taking-over', generation: machine.generation, listens: parked.length }, 'hot-restart: the spare takes over')
    for (const listen of parked.splice(0)) listen()
  }
  const stop = (): void => {
    proc.removeListener('message', onMessage)
    proc.channel?.unref()
    sockets.park = undefined
  }
  proc.on('message', onMessage)
  return stop
}
