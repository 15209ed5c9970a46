// What /proc says about a process (Linux): its state, its fds, its memory.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/** The state ('R', 'S', 'Z' for a zombie...) and parent of a process; undefined once it is gone. */
export function stat (pid: number): { state: string, ppid: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const [state, ppid] = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return { state: state!, ppid: Number(ppid) }
  } catch {
    return undefined
  }
}

/**
 * Whether `pid` runs. A zombie does not: it has exited and only waits for its parent, or init,
 * to reap it (`process.kill(pid, 0)` would still succeed).
 */
export function alive (pid: number): boolean {
  const s = stat(pid)
  return s !== undefined && s.state !== 'Z'
}

/** The inodes of the TCP connections (not the listening sockets) of this network namespace. */
function connectionInodes (): Set<string> {
  const inodes = new Set<string>()
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try { text = readFileSync(file, 'utf8') } catch {}
    for (const row of text.split('\n').slice(1)) {
      const cols = row.trim().split(/\s+/)
      if (cols.length > 9 && cols[3] !== '0A') inodes.add(cols[9]!)
    }
  }
  return inodes
}

/**
 * The fds of a process, without its TCP connections (how many there are depends on the load at
 * that instant). The smallest of 3 samples: a connection accepted between the two reads would
 * otherwise count.
 */
export function fdCount (pid: number): number {
  let count = Infinity
  for (let i = 0; i < 3; i++) {
    const links = readdirSync(`/proc/${pid}/fd`).map(fd => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`) } catch { return '' } })
    const connections = connectionInodes()
    count = Math.min(count, links.filter(l => !connections.has(/^socket:\[(\d+)\]$/.exec(l)?.[1] ?? '')).length)
  }
  return count
}

/** The resident memory of a process (MB). */
export function rssMB (pid: number): number {
  const kB = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])
  return Math.round(kB / 102.4) / 10
}
