'use strict'
// What the kernel says about a process (/proc) and about TCP (nstat). Linux only; elsewhere,
// and for a process that is gone, the values are undefined.
const { execFileSync } = require('node:child_process')
const { readdirSync, readFileSync, readlinkSync } = require('node:fs')

/**
 * The open fds of `pid` (all, and those that are not sockets: the connections come and go
 * with the load, the rest should not change from one generation to the next) and its
 * resident set size (KiB).
 */
function sampleProcess (pid) {
  try {
    const fds = readdirSync(`/proc/${pid}/fd`)
    let sockets = 0
    for (const fd of fds) {
      try { if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) sockets++ } catch {}
    }
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return { pid, fds: fds.length, nonSocketFds: fds.length - sockets, rssKiB: rss === null ? undefined : Number(rss[1]) }
  } catch {
    return { pid, fds: undefined, nonSocketFds: undefined, rssKiB: undefined }
  }
}

const COUNTERS = ['TcpExtListenOverflows', 'TcpExtListenDrops', 'TcpEstabResets', 'TcpOutRsts']

/**
 * The kernel's TCP counters (absolute values; `nstat -a` without touching its history).
 * Machine-wide: other programs' traffic counts too. undefined where nstat is not readable.
 */
function readNstat () {
  try {
    const out = execFileSync('nstat', ['-asz', ...COUNTERS], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] })
    const values = {}
    for (const line of out.split('\n')) {
      const m = /^(\S+)\s+(\d+)/.exec(line)
      if (m !== null && COUNTERS.includes(m[1])) values[m[1]] = Number(m[2])
    }
    return COUNTERS.every(c => c in values) ? values : undefined
  } catch {
    return undefined
  }
}

/** after - before, counter by counter (undefined if either is). */
function nstatDelta (before, after) {
  if (before === undefined || after === undefined) return undefined
  return Object.fromEntries(COUNTERS.map(c => [c, after[c] - before[c]]))
}

module.exports = { sampleProcess, readNstat, nstatDelta }
