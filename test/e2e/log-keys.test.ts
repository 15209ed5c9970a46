// Issue 10 item 20: no log line carries a key twice (strict JSON consumers reject duplicate
// keys; JSON.parse silently keeps the last). Every line of a Fastify app's reload, with an
// upgrade refused on the way, is parsed by a parser that detects duplicate keys.
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import t from 'tap'
import { startApp } from '../helpers/app'
import { request } from '../helpers/http'

/** The keys that an object of this JSON text has twice (at any depth). */
function duplicateKeys (text: string): string[] {
  const duplicates: string[] = []
  const open: Array<Set<string> | null> = [] // an object's keys so far; null for an array
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '{') open.push(new Set())
    else if (c === '[') open.push(null)
    else if (c === '}' || c === ']') open.pop()
    else if (c === '"') {
      let j = i + 1
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1
      const key = text.slice(i + 1, j)
      let k = j + 1
      while (text[k] === ' ') k++
      const keys = open.at(-1)
      if (text[k] === ':' && keys !== null && keys !== undefined) {
        if (keys.has(key)) duplicates.push(key)
        keys.add(key)
      }
      i = j
    }
  }
  return duplicates
}

t.test('duplicateKeys', async t => {
  t.same(duplicateKeys('{"a":1,"b":{"a":2},"c":["a","a"]}'), [])
  t.same(duplicateKeys('{"pid":1,"x":"\\"pid\\"","pid":2}'), ['pid'])
  t.same(duplicateKeys('{"a":{"b":1,"b":2}}'), ['b'])
})

t.test('every line of a reload with a refused upgrade has each key once', async t => {
  const hold = join(process.env.TMPDIR ?? '/tmp', `fhr-keys-${process.pid}`)
  const app = await startApp({ BOOT_FILE: hold })
  t.teardown(() => { app.kill(); rmSync(hold, { force: true }) })
  const raw: string[] = []
  createInterface({ input: app.proc.stdout! }).on('line', line => raw.push(line))
  const first = app.proc.pid as number
  // the successor holds before it listens: the next request reaches the first generation
  writeFileSync(hold, 'hold')
  process.kill(first, 'SIGUSR2')
  const started = await app.waitFor(l => l.pid === first && l.event === 'upgrade.started', 'upgrade started')
  const successor = started.successorPid as number
  await app.waitFor(l => l.pid === successor && l.msg === 'boot: holding', 'the successor to hold')
  const refused = await request(app.port, '/upgrade', { method: 'POST' })
  t.equal(refused.status, 500)
  t.equal(refused.body.code, 'FST_HOT_RESTART_UPGRADE_IN_PROGRESS')
  rmSync(hold)
  await app.waitFor(l => l.pid === successor && l.event === 'ready', 'the successor to be ready')
  await app.stop(successor)
  const events = raw.map(line => (JSON.parse(line) as { event?: string }).event)
  t.ok(events.includes('ready') && events.includes('upgrade.refused') && events.includes('exit'), 'the lines of interest are there')
  t.same(raw.filter(line => duplicateKeys(line).length > 0), [], 'no line has a key twice')
})
