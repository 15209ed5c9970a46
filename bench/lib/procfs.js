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

/** The state ('R', 'S', 'Z' for a zombie...) and parent of a process; undefined when it does not exist. */
function processStat (pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const [state, ppid] = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return { state, ppid: Number(ppid) }
  } catch {
    return undefined
  }
}

/** Whether `pid` runs (a zombie has exited; it only waits to be reaped). */
const running = (pid) => { const s = processStat(pid); return s !== undefined && s.state !== 'Z' }

/** The inodes of the TCP connections (not the listening sockets) of this network namespace. */
function connectionInodes () {
  const inodes = new Set()
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try { text = readFileSync(file, 'utf8') } catch {}
    for (const row of text.split('\n').slice(1)) {
      const cols = row.trim().split(/\s+/)
      if (cols.length > 9 && cols[3] !== '0A') inodes.add(cols[9])
    }
  }
  return inodes
}

/**
 * The fds of a process, not counting its TCP connections (their number depends on the load at
 * that instant), and its RSS. The smallest of 3 samples: a connection that opens between the
 * two reads would otherwise count.
 */
function fdsWithoutConnections (pid) {
  let fds = Infinity
  for (let i = 0; i < 3; i++) {
    const links = readdirSync(`/proc/${pid}/fd`).map(fd => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`) } catch { return '' } })
    const connections = connectionInodes()
    fds = Math.min(fds, links.filter(l => !connections.has(/^socket:\[(\d+)\]$/.exec(l)?.[1])).length)
  }
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return { fds, rssMB: Math.round(Number(rss[1]) / 102.4) / 10 }
}

/** CPU time of `pid` so far (ms: user + system, in ticks of 10 ms), from /proc; undefined once it is gone. */
function cpuMs (pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10 // utime, stime
  } catch {
    return undefined
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

module.exports = { sampleProcess, processStat, cpuMs, running, fdsWithoutConnections, readNstat, nstatDelta }
