// The `event` field of the log lines: every event logged in lib/ is in the table of
// lib/log-events.ts (operators and tests match on it), and every event in the table is logged.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'

const lib = join(__dirname, '..', '..', 'lib')

t.test('the events logged in lib/ are the ones in the table of log-events.ts', async t => {
  const logged = new Set<string>()
  for (const file of readdirSync(lib)) {
    if (!file.endsWith('.ts') || file === 'log-events.ts') continue
    for (const [, event] of readFileSync(join(lib, file), 'utf8').matchAll(/\bevent: '([a-z.-]+)'/g)) logged.add(event!)
  }
  const source = readFileSync(join(lib, 'log-events.ts'), 'utf8')
  const table = new Set([...source.matchAll(/^ \* \| `([a-z.-]+)`/gm)].map(m => m[1]!))
  const type = new Set([...source.slice(source.indexOf('export type LogEvent')).matchAll(/'([a-z.-]+)'/g)].map(m => m[1]!))
  t.same([...logged].filter(e => !table.has(e)), [], 'every event logged is in the table')
  t.same([...table].filter(e => !logged.has(e)), [], 'every event in the table is logged')
  t.same([...table].sort(), [...type].sort(), 'the table and the LogEvent type list the same events')
})
