/**
 * How many connections a process has open, read from /proc (Linux): its socket fds matched
 * against the kernel's tables of established TCP connections and of connected unix stream
 * sockets that have a path (accepted on a listening path; a socketpair such as an IPC channel
 * has none). For `status`: what a draining generation still waits for.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/** TCP state 01 is ESTABLISHED; unix state 03 is CONNECTED. */
const TCP_ESTABLISHED = '01'
const UNIX_CONNECTED = '03'

/**
 * @returns the number of open connections of `pid`, or undefined where it cannot be known
 * (not Linux, another user's process, a process that has exited)
 */
export function openConnections (pid: number, proc = '/proc'): number | undefined {
  let inodes: Set<string>
  try {
    inodes = new Set()
    for (const fd of readdirSync(`${proc}/${pid}/fd`)) {
      try {
        const target = readlinkSync(`${proc}/${pid}/fd/${fd}`)
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1]
        if (inode !== undefined) inodes.add(inode)
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return undefined
  }
  let count = 0
  for (const table of ['tcp', 'tcp6']) {
    for (const row of rows(`${proc}/${pid}/net/${table}`)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (row[3] === TCP_ESTABLISHED && inodes.has(row[9] as string)) count++
    }
  }
  for (const row of rows(`${proc}/${pid}/net/unix`)) {
    // Num RefCount Protocol Flags Type St Inode Path
    if (row[5] === UNIX_CONNECTED && row[7] !== undefined && inodes.has(row[6] as string)) count++
  }
  return count
}

function rows (file: string): string[][] {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(1).map(line => line.trim().split(/\s+/))
  } catch {
    return []
  }
}
