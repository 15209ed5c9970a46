'use strict'
// What the kernel says about a process (/proc) and about TCP (nstat). Linux only; elsewhere,
// and for a process that is gone, the values are undefined.
const { execFileSync } = require('node:child_process')
const { readdirSync, readFileSync } = require('node:fs')

/** The open fd count and resident set size (KiB) of `pid`. */
function sampleProcess (pid) {
  try {
    const fds = readdirSync(`/proc/${pid}/fd`).length
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return { pid, fds, rssKiB: rss === null ? undefined : Number(rss[1]) }
  } catch {
    return { pid, fds: undefined, rssKiB: undefined }
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
