// The shape of lib/: no import circle, and the CLI loads neither an adapter nor the generation
// core (their import-time side effects are the app's, not the supervisor's). A circle counts
// type imports too (as madge does); what the CLI loads counts runtime imports only.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'

const lib = join(__dirname, '..', '..', 'lib')
const graph = new Map<string, string[]>()
const typeGraph = new Map<string, string[]>()
for (const file of readdirSync(lib).filter(f => f.endsWith('.ts'))) {
  const source = readFileSync(join(lib, file), 'utf8')
  const imports = [...source.matchAll(/^(?:import|export) (type )?[^'\n]*?from '\.\/([^']+)'/gm)]
  graph.set(file, imports.filter(m => m[1] === undefined).map(m => `${m[2]!}.ts`))
  typeGraph.set(file, imports.map(m => `${m[2]!}.ts`))
}

t.test('no import circle in lib/', async t => {
  const cycles: string[] = []
  const visit = (file: string, stack: string[]): void => {
    if (stack.includes(file)) { cycles.push([...stack.slice(stack.indexOf(file)), file].join(' -> ')); return }
    for (const next of typeGraph.get(file) ?? []) visit(next, [...stack, file])
  }
  for (const file of typeGraph.keys()) visit(file, [])
  t.same(cycles, [])
})

t.test('the CLI loads no adapter and no generation core', async t => {
  const loaded = new Set<string>()
  const walk = (file: string): void => {
    if (loaded.has(file)) return
    loaded.add(file)
    for (const next of graph.get(file) ?? []) walk(next)
  }
  walk('cli.ts')
  for (const file of ['index.ts', 'node.ts', 'upgrader.ts', 'sockets.ts', 'drain.ts', 'supervised.ts', 'graceful.ts']) {
    t.notOk(loaded.has(file), `cli.ts does not load ${file}`)
  }
  t.ok(loaded.has('supervisor.ts') && loaded.has('protocol.ts'), 'it loads the supervisor and the protocol')
})
