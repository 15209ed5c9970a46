/**
 * The HTTP/1 responses of each socket that are not finished yet, so that the drain can say
 * `Connection: close` on the right one (drain.ts, stop-delay.ts).
 */
import type http from 'node:http'
import type net from 'node:net'
import { currentResponse } from './node-internals'

/**
 * Per HTTP/1 socket, its responses not yet finished, in the order of their requests. Node reads
 * and routes pipelined requests ahead of the responses: a `Connection: close` on any but the
 * last of them would close the socket with the others routed and never answered.
 */
const pendingResponses = new WeakMap<net.Socket, http.ServerResponse[]>()
/** The list each response is in (a pipelined response has no `socket` until its turn). */
const listOf = new WeakMap<http.ServerResponse, http.ServerResponse[]>()

/** A 'request' listener (put first) that records each response in its socket's list. */
export function onRequest (req: http.IncomingMessage, res: http.ServerResponse): void {
  const socket = req.socket
  let pending = pendingResponses.get(socket)
  if (pending === undefined) {
    pending = []
    pendingResponses.set(socket, pending)
  }
  const list = pending
  list.push(res)
  listOf.set(res, list)
  res.once('finish', () => { list.splice(list.indexOf(res), 1) })
}

/**
 * Makes `res` say `Connection: close` when its headers are written, if no request was read after
 * its own on the socket by then (a later one is answered on the same socket first).
 */
export function closeWhenLast (res: http.ServerResponse): void {
  if (res.headersSent) return
  const writeHead = res.writeHead
  res.writeHead = function (this: http.ServerResponse, ...args: unknown[]) {
    // a socket not followed request by request (HTTP/1 on an HTTP/2 server): this response closes it
    const pending = listOf.get(res)
    if (pending === undefined || pending.at(-1) === res) res.setHeader('connection', 'close')
    return (writeHead as (...a: unknown[]) => http.ServerResponse).apply(this, args)
  } as typeof res.writeHead
}

/** The responses of `socket` not finished yet, in order. */
export function responsesOf (socket: net.Socket): http.ServerResponse[] {
  const current = currentResponse(socket)
  return pendingResponses.get(socket) ?? (current ? [current] : [])
}
