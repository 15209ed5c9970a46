// reload's progress: on a terminal, one line rewritten in place (signalled, the successor
// booting, the old generation draining, drained); elsewhere nothing but the one result line.
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import t from 'tap'
import { EXIT, main } from '../../lib/cli'
import { reloadProgress } from '../../lib/progress'
import { predecessorGone, startApp } from '../helpers/app'
import { cli } from '../helpers/supervisor'

// the terminal's erase-to-end-of-line, readable in the assertions
const EL = '\x1b[K'
const visible = (s: string): string => s.replaceAll(EL, '<EL>')

interface Captured { code: number, out: string, err: string }

async function reload (pidFile: string, isTTY: boolean): Promise<Captured> {
  let out = ''
  let err = ''
  const code = await main(['reload', '--pid-file', pidFile], { out: { write: (s: string) => { out += s } }, err: { isTTY, write: (s: string) => { err += s } } })
  return { code, out, err }
}

t.test('the progress line, in-process', async t => {
  let text = ''
  const stream = { isTTY: true, write: (s: string) => { text += s } }
  const p = reloadProgress(stream, 42, 'SIGUSR2', performance.now())
  t.equal(visible(text), '\rreload: sent SIGUSR2 to 42…<EL>')
  p.tick(undefined)
  t.match(visible(text), /\rreload: sent SIGUSR2 to 42, waiting for the upgrade to start… \d+\.\d s<EL>$/)
  p.tick({ state: 'upgrading', successorPid: 43, generation: 2 })
  t.match(visible(text), /\rreload: successor 43 \(generation 2\) booting… \d+\.\d s<EL>$/)
  p.tick(undefined)
  t.match(visible(text), /\rreload: successor 43 \(generation 2\) booting… \d+\.\d s<EL>$/, 'the successor stays on the line')
  const before = text.length
  p.tick({ state: 'upgrading', successorPid: 43, generation: 2 })
  t.ok(text.length === before || /booting… \d+\.\d s<EL>$/.test(visible(text)), 'the same line is not written twice')
  p.clear()
  t.match(visible(text), /\r<EL>$/)
  p.clear()
  t.notMatch(visible(text), /\r<EL>\r<EL>$/, 'a cleared line is not cleared again')

  // a process that does not exit before the deadline: still draining, the reload done
  text = ''
  await p.drained([process.pid], performance.now() + 250)
  t.match(visible(text), new RegExp(`\\rdraining ${process.pid}, 0 open connections… \\d+\\.\\d s<EL>`))
  t.match(visible(text), new RegExp(`still draining after \\d+ ms: ${process.pid} \\(the reload itself is done\\)\\n$`))

  // a process that has exited already
  text = ''
  await p.drained([999999999], performance.now() + 1000)
  t.match(visible(text), /^drained: 999999999 exited \d+ ms after the successor was ready\n$/)

  // not a terminal: nothing at all
  let quiet = ''
  const none = reloadProgress({ write: (s: string) => { quiet += s } }, 42, 'SIGUSR2')
  none.tick({ state: 'upgrading', successorPid: 43 })
  none.clear()
  await none.drained([process.pid], performance.now() + 1000)
  t.equal(quiet, '')
})

t.test('reload against a real server: one line when not a terminal; progress on a terminal', async t => {
  const app = await startApp({ READY_TIMEOUT: '30000' })
  t.teardown(() => app.kill())

  const plain = await reload(app.pidFile, false)
  t.equal(plain.code, EXIT.ok, plain.err)
  t.match(plain.out, /^reloaded: \d+ -> \d+ \(generation 2\) in \d+ ms\n$/)
  t.equal(plain.err, '', 'nothing but the result line')
  const second = Number(/-> (\d+)/.exec(plain.out)![1])
  await predecessorGone(app, second)

  const tty = await reload(app.pidFile, true)
  t.equal(tty.code, EXIT.ok, tty.err)
  t.match(tty.out, /^reloaded: \d+ -> \d+ \(generation 3\) in \d+ ms\n$/, 'the result line is the same')
  const third = Number(/-> (\d+)/.exec(tty.out)![1])
  t.match(visible(tty.err), new RegExp(`^\\rreload: sent SIGUSR2 to ${second}…<EL>`))
  t.match(visible(tty.err), new RegExp(`\\rreload: successor ${third} \\(generation 3\\) booting… \\d+\\.\\d s<EL>`))
  t.match(visible(tty.err), new RegExp(`\\r<EL>drained: ${second} exited \\d+ ms after the successor was ready\\n$`))
  t.notOk(tty.err.includes('\n') && tty.err.indexOf('\n') !== tty.err.length - 1, 'one line, rewritten in place')
  await predecessorGone(app, third)

  // a real pseudo-terminal (util-linux script): the CLI as a user runs it
  const hasScript = await new Promise<boolean>(resolve => execFile('script', ['--version'], err => resolve(err === null)))
  if (!hasScript) {
    t.comment('no `script` command (util-linux): the pseudo-terminal case is skipped')
  } else {
    // the compiled CLI in plain node, as a user runs it (not through the test's loaders)
    const quote = (s: string): string => `'${s.replaceAll('\'', '\'\\\'\'')}'`
    const command = [process.execPath, cli, 'reload', '--pid-file', app.pidFile].map(quote).join(' ')
    const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'inherit'] })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => { output += s })
    // 'close', not 'exit': the output may still be on its way when the process has exited
    const [code] = await once(child, 'close')
    t.equal(code, EXIT.ok, output)
    t.match(output, /\rreload: successor \d+ \(generation 4\) booting…/, 'the progress line on the terminal')
    t.match(output, /reloaded: \d+ -> \d+ \(generation 4\) in \d+ ms\r?\n/)
    t.match(output, /drained: \d+ exited \d+ ms after the successor was ready/)
  }
  const current = Number((await import('node:fs')).readFileSync(app.pidFile, 'utf8'))
  await predecessorGone(app, current)
  await app.stop(current)
})
