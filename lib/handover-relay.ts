/**
 * Connection hand-over under a supervisor (`run`). The generations are siblings, children of the
 * supervisor, with no channel between them: a draining worker sends each connection to the
 * supervisor, which relays it to a worker of the generation that serves now.
 *
 * The supervisor must never read from a connection on its way: a byte it read would be lost to
 * the worker that answers. Node's IPC wraps a received net.Socket in a new socket that starts
 * reading at once, but a raw libuv handle (a TCP or Pipe wrap, `socket._handle`) is sent as
 * type `net.Native` and received as the raw handle, never read, which the supervisor sends on
 * as it came (node's lib/internal/child_process.js, `handleConversion`). Unlike a net.Socket,
 * a raw handle stays open in the sender after the send: each side closes its copy once the
 * handle has left (the kernel holds the connection while it is in flight).
 *
 * With N workers per generation, the connections are spread over the new generation's workers
 * in turn. A connection that no worker can take (the new generation's channels closed) is
 * closed: its client sees an idle connection close, which HTTP/1.1 clients retry.
 *
 * This file is loaded by the supervisor (the CLI): it imports nothing that an app's process
 * loads (see test/imports.test.ts).
 */
import type { ChildProcess } from 'node:child_process'
import net from 'node:net'
import type { Logger } from './log'
import { isConnectionMessage, type ConnectionMessage } from './protocol'

/** A raw libuv stream handle (TCP or Pipe wrap), as Node's IPC delivers one of type `net.Native`. */
export interface StreamHandle {
  readStart (): number
  close (): void
}

/** Whether `handle` is a raw stream handle (a TCP or Pipe wrap), not a net.Socket nor a UDP handle. */
export function isStreamHandle (handle: unknown): handle is StreamHandle {
  const h = handle as Partial<StreamHandle> | null
  return typeof h === 'object' && h !== null && !(h instanceof net.Socket) && typeof h.readStart === 'function' && typeof h.close === 'function'
}

/** What the relay did, for tests and logs. */
export interface RelayReport {
  /** Connections sent on to a worker of the serving generation. */
  relayed: number
  /** Connections that no worker could take: closed. */
  dropped: number
}

/** The supervisor's side: takes the connections a draining worker sends and sends each on. */
export class ConnectionRelay {
  readonly report: RelayReport = { relayed: 0, dropped: 0 }
  private turn = 0
  private readonly log: Logger

  constructor (log: Logger) {
    this.log = log
  }

  /**
   * Takes a message a worker sent, if it is a connection: sends it on, with its handle, to one of
   * `heirs` (the workers of the generation that serves now; none when the sender serves in it).
   * A connection sent with `credit` is answered `relayed` to its sender (`from`) once it has
   * left here or been dropped: the sender gives the next one then (via-supervisor.ts), so that
   * connections wait in the sender, which serves them meanwhile, and not unread here.
   * @returns whether the message was a connection (taken here); anything else is the caller's
   */
  forward (message: unknown, handle: unknown, heirs: Iterable<{ child: ChildProcess }> | undefined, from?: Pick<ChildProcess, 'send' | 'connected'>): boolean {
    if (!isConnectionMessage(message)) return false
    const credit = (): void => {
      // with a callback, a channel that closed meanwhile is no uncaught 'error'
      if (message.credit === true && from?.connected === true) from.send({ hotRestart: 'relayed' }, () => {})
    }
    // without its handle, the connection closed on its way: nothing to send on
    if (!isStreamHandle(handle)) {
      credit()
      return true
    }
    const children = [...heirs ?? []].map(heir => heir.child)
    this.send(children, message, handle, children.length, credit)
    return true
  }

  private send (children: ChildProcess[], message: ConnectionMessage, handle: StreamHandle, tries: number, credit: () => void): void {
    if (tries === 0) {
      this.report.dropped++
      handle.close()
      credit()
      this.log.warn({ event: 'supervisor.connection.dropped', socket: message.socket, dropped: this.report.dropped },
        'hot-restart supervisor: no process of the serving generation could take a connection handed over; closed it')
      return
    }
    const child = children[this.turn++ % children.length] as ChildProcess
    child.send({ hotRestart: 'connection', socket: message.socket }, handle as never, (err: Error | null) => {
      if (err !== null) return this.send(children, message, handle, tries - 1, credit)
      this.report.relayed++
      // the handle has left (the kernel holds the connection until the worker receives it)
      handle.close()
      credit()
    })
  }
}
