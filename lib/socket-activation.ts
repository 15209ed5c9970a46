/**
 * systemd socket activation (sd_listen_fds): systemd binds the listening sockets of a `.socket`
 * unit and starts the service with them as fds 3, 4, ..., named by `LISTEN_FDS` (how many),
 * `LISTEN_PID` (the process they are for) and `LISTEN_FDNAMES`. The sockets then outlive the
 * service: while it is stopped or restarting, systemd holds them, so new connections wait in
 * the kernel's queue instead of being refused.
 *
 * `fastify-hot-restart run` takes them as it takes `--listen` sockets, and a standalone
 * generation 1 as a successor takes its predecessor's: the app's `listen()` on the same address
 * serves them. The variables are removed from the environment once read, whoever they were
 * for, so that no process started from here (a generation, a successor, a child of the app)
 * misreads them. Only TCP sockets are taken: a unix socket path is systemd's to remove, and this
 * library removes the paths it serves when it stops.
 */
import { readFileSync, readlinkSync } from 'node:fs'
import net from 'node:net'
import { SocketActivationError } from './errors'
import { FIRST_FD } from './manifest'
import { describeEntry, type TcpEntry } from './protocol'

/** The environment variables of the protocol. */
const VARIABLES = ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'] as const

/** More sockets than this is not a socket unit (systemd's own limit is far above any real one). */
const MAX_FDS = 1024

/** A socket systemd passed: the manifest entry that describes it (`fd` as in this process), and its name. */
export interface ActivatedSocket {
  entry: TcpEntry
  /** From LISTEN_FDNAMES (systemd's default is the socket unit's name). */
  name: string | undefined
}

/** An IPv4 or IPv6 address as /proc/net/tcp{,6} writes it (32-bit words in host order: little-endian here). */
function parseProcAddress (hex: string): string {
  const words = hex.match(/.{8}/g) as string[]
  const bytes = words.flatMap(word => (word.match(/../g) as string[]).reverse())
  if (bytes.length === 4) return bytes.map(b => Number.parseInt(b, 16)).join('.')
  const groups = Array.from({ length: 8 }, (_, i) => `${bytes[2 * i]}${bytes[2 * i + 1]}`)
  return new net.SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address
}

/**
 * Where the listening TCP socket `fd` of this process is bound, from /proc (Node has no
 * getsockname on a bare fd).
 * @returns undefined when it is not a listening TCP socket
 */
export function listeningAddress (fd: number, proc = '/proc'): { address: string, port: number } | undefined {
  let inode: string | undefined
  try {
    inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`${proc}/self/fd/${fd}`))?.[1]
  } catch {
    return undefined
  }
  for (const file of ['tcp', 'tcp6']) {
    let rows: string[] = []
    try {
      rows = readFileSync(`${proc}/net/${file}`, 'utf8').split('\n').slice(1)
    } catch {
      continue
    }
    for (const row of rows) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode; st 0A: LISTEN
      const cols = row.trim().split(/\s+/)
      if (cols[9] !== inode || cols[3] !== '0A') continue
      const [address, port] = (cols[1] as string).split(':') as [string, string]
      return { address: parseProcAddress(address), port: Number.parseInt(port, 16) }
    }
  }
  return undefined
}

/**
 * Takes the sockets systemd passed to this process, if any, and removes the variables from
 * `env` (always: a process started from here must not read them).
 * @returns the sockets (none when the variables are absent or for another pid)
 * @throws an Error that names the variable or the fd and what was expected
 */
export function takeActivatedSockets (env: NodeJS.ProcessEnv = process.env, pid = process.pid, proc = '/proc'): ActivatedSocket[] {
  const { LISTEN_PID: listenPid, LISTEN_FDS: listenFds, LISTEN_FDNAMES: names } = env
  for (const name of VARIABLES) Reflect.deleteProperty(env, name)
  if (listenPid === undefined || listenFds === undefined) return []
  if (!/^\d+$/.test(listenPid)) throw new Error(`LISTEN_PID must be a pid, got "${listenPid}"`)
  // for another process: the one that execs us may not have cleared it
  if (Number(listenPid) !== pid) return []
  const count = Number(listenFds)
  if (!/^\d+$/.test(listenFds) || count > MAX_FDS) throw new Error(`LISTEN_FDS must be a number of fds from 0 to ${MAX_FDS}, got "${listenFds}"`)
  const fdNames = names === undefined ? [] : names.split(':')
  const sockets: ActivatedSocket[] = []
  for (let i = 0; i < count; i++) {
    const fd = FIRST_FD + i
    const bound = listeningAddress(fd, proc)
    if (bound === undefined) {
      throw new Error(`LISTEN_FDS: fd ${fd} is not a listening TCP socket (only ListenStream= with a port or an address and port is taken, not a unix socket path)`)
    }
    // ListenStream=3000 binds every address: the app's listen({ port: 3000 }) asks for that
    const host = bound.address === '::' || bound.address === '0.0.0.0' ? '' : bound.address
    sockets.push({ entry: { fd, kind: 'tcp', requested: { host, port: bound.port }, ...bound }, name: fdNames[i] || undefined })
  }
  return sockets
}

/** Logger calls it makes; a pino logger fits. */
interface InfoLogger {
  info (obj: object, msg: string): void
}

/**
 * For a standalone generation 1: the sockets systemd passed, as inherited sockets (see
 * sockets.ts), each logged.
 * @throws FST_HOT_RESTART_SOCKET_ACTIVATION when a variable or an fd is not what systemd passes
 */
export function activatedEntries (log: InfoLogger, env: NodeJS.ProcessEnv = process.env, pid = process.pid): TcpEntry[] {
  let sockets: ActivatedSocket[]
  try {
    sockets = takeActivatedSockets(env, pid)
  } catch (err) {
    throw new SocketActivationError((err as Error).message)
  }
  for (const { entry, name } of sockets) {
    log.info({ event: 'sockets.activated', fd: entry.fd, name, address: describeEntry(entry) }, 'hot-restart: serving a socket that systemd passed (socket activation)')
  }
  return sockets.map(socket => socket.entry)
}
