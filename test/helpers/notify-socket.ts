// A fake systemd notify socket (test/fixtures/notify-socket.py) that records every datagram.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fixture, killOnExit, tempDir } from './app'

export interface Notification { notify: string, time: number }

export interface NotifySocket {
  path: string
  /** What systemd would have been told (systemd-notify's `BARRIER=1` left out). */
  notifications: Notification[]
  /** Resolves with the first notification (already received or to come) that matches. */
  waitFor (match: (n: Notification) => boolean, what: string): Promise<Notification>
  close (): void
}

export async function startNotifySocket (): Promise<NotifySocket> {
  const path = join(tempDir('fhr-notify-'), 'notify.sock')
  const proc = spawn('python3', [fixture('notify-socket.py'), path], { stdio: ['ignore', 'pipe', 'inherit'] })
  killOnExit(proc)
  const notifications: Notification[] = []
  const waiters = new Set<{ match: (n: Notification) => boolean, resolve: (n: Notification) => void }>()
  let bound!: () => void
  const ready = new Promise<void>(resolve => { bound = resolve })
  createInterface({ input: proc.stdout! }).on('line', text => {
    const line = JSON.parse(text)
    if (line.bound === true) return bound()
    if (line.notify === 'BARRIER=1') return
    notifications.push(line)
    for (const w of waiters) if (w.match(line)) { waiters.delete(w); w.resolve(line) }
  })
  await ready
  return {
    path,
    notifications,
    waitFor (match, what) {
      const seen = notifications.find(match)
      if (seen !== undefined) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for the notification ${what}; got ${JSON.stringify(notifications)}`)), 30000)
        waiters.add({ match, resolve: n => { clearTimeout(timer); resolve(n) } })
      })
    },
    close () { proc.kill('SIGKILL') }
  }
}
