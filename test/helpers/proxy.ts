// A real reverse proxy in front of an app, for the hand-over tests: nginx (and HAProxy) on
// 127.0.0.1 with a keep-alive pool of upstream connections. Neither can listen on port 0: a
// free port is found by binding port 0 here and releasing it. Configured strictly: a request
// that fails on an upstream connection is not retried elsewhere (it would hide the failure), so
// every upstream error reaches the client as a 502 or 504.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { killOnExit, tempDir } from './app'

export interface Proxy {
  port: number
  proc: ChildProcess
  /** The proxy's own log (its errors and warnings). */
  log (): string
  stop (): Promise<void>
}

/** Whether `command` can run here (the proxy is installed). */
export function installed (command: string): boolean {
  return spawnSync(command, ['-v'], { stdio: 'ignore' }).status === 0
}

async function freePort (): Promise<number> {
  const server = net.createServer()
  await once(server.listen(0, '127.0.0.1'), 'listening')
  const { port } = server.address() as net.AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}

/** Resolves once something accepts connections on `port` (the proxy has started), polling at most `timeout` ms. */
async function accepting (port: number, proc: ChildProcess, timeout = 30000): Promise<void> {
  const started = performance.now()
  for (;;) {
    const ok = await new Promise<boolean>(resolve => {
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    if (proc.exitCode !== null || performance.now() - started > timeout) throw new Error(`the proxy does not accept on port ${port}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

function started (proc: ChildProcess, port: number, logFile: string): Proxy {
  killOnExit(proc)
  return {
    port,
    proc,
    log: () => { try { return readFileSync(logFile, 'utf8') } catch { return '' } },
    async stop () {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      proc.kill('SIGTERM')
      await once(proc, 'exit')
    }
  }
}

/**
 * Starts nginx in the foreground (one process) in front of `upstreamPort`, with a pool of
 * `keepalive` idle upstream connections kept `keepaliveTimeout` long.
 */
export async function startNginx (upstreamPort: number, { keepalive = 32, keepaliveTimeout = '300s' } = {}): Promise<Proxy> {
  const dir = tempDir('fhr-nginx-')
  mkdirSync(join(dir, 'tmp'))
  const port = await freePort()
  const logFile = join(dir, 'error.log')
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(kind => `${kind}_temp_path ${join(dir, 'tmp', kind)};`).join('\n  ')
  writeFileSync(join(dir, 'nginx.conf'), `daemon off;
master_process off;
pid ${join(dir, 'nginx.pid')};
error_log ${logFile} warn;
events { worker_connections 4096; }
http {
  access_log off;
  ${temp}
  upstream app {
    server 127.0.0.1:${upstreamPort};
    keepalive ${keepalive};
    keepalive_timeout ${keepaliveTimeout};
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    keepalive_timeout 300s;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream off;
      proxy_read_timeout 10s;
    }
  }
}
`)
  const proc = spawn('nginx', ['-e', logFile, '-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'inherit'] })
  await accepting(port, proc)
  return started(proc, port, logFile)
}

/**
 * Starts HAProxy in the foreground in front of `upstreamPort`, reusing idle upstream
 * connections (`http-reuse always`) kept `keepaliveTimeout` long.
 */
export async function startHaproxy (upstreamPort: number, { keepaliveTimeout = '300s' } = {}): Promise<Proxy> {
  const dir = tempDir('fhr-haproxy-')
  const port = await freePort()
  const logFile = join(dir, 'haproxy.log')
  writeFileSync(logFile, '')
  writeFileSync(join(dir, 'haproxy.cfg'), `global
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 300s
  timeout server 10s
  timeout http-keep-alive ${keepaliveTimeout}
  retries 0
  option http-keep-alive
frontend web
  bind 127.0.0.1:${port}
  default_backend app
backend app
  http-reuse always
  server app 127.0.0.1:${upstreamPort}
`)
  const proc = spawn('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: ['ignore', 'ignore', 'pipe'] })
  proc.stderr!.on('data', (chunk: Buffer) => { writeFileSync(logFile, chunk, { flag: 'a' }) })
  await accepting(port, proc)
  return started(proc, port, logFile)
}
