'use strict'
// Preloaded (`node --require bench/lib/probe.js`) by bench/handover.js into the app and,
// through execArgv, into every successor: appends timestamped events of the path signal ->
// successor serving to PROBE_FILE, one JSON line each, on the machine's clock (epoch ms).
const { appendFileSync } = require('node:fs')
const childProcess = require('node:child_process')
const Module = require('node:module')
const net = require('node:net')

const FILE = process.env.PROBE_FILE
const now = () => performance.timeOrigin + performance.now()
const mark = (event, at = now()) => appendFileSync(FILE, JSON.stringify({ pid: process.pid, event, at }) + '\n')

mark('process start', performance.timeOrigin)
mark('preload')

// the app's own requires: fastify and the plugin
const load = Module._load
Module._load = function (request, parent, ...rest) {
  const timed = parent?.id === '.' && (request === 'fastify' || request === '..')
  if (!timed) return load.call(this, request, parent, ...rest)
  const since = now()
  try { return load.call(this, request, parent, ...rest) } finally { mark(`require ${request} from`, since); mark(`require ${request}`) }
}

process.on('SIGUSR2', () => mark('signal handled'))

const spawn = childProcess.spawn
childProcess.spawn = function (...args) {
  mark('spawn called')
  const child = spawn.apply(this, args)
  mark('spawn returned')
  child.on('message', () => mark('message from successor'))
  return child
}

const send = process.send
if (send !== undefined) process.send = function (...args) { mark('message sent'); return send.apply(this, args) }

const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  mark('listen called')
  this.once('listening', () => mark('listening'))
  return listen.apply(this, args)
}
