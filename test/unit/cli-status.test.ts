// The CLI's status command, --version, --help of each command, and our messages for bad
// arguments, in-process; the status file's history and /proc's connection count on fakes.
// With real servers: cli-status-standalone.test.ts, cli-status-supervised.test.ts.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import t from 'tap'
import { tempDir } from '../helpers/app'
import { EXIT, version } from '../../lib/cli'
import { openConnections } from '../../lib/connections'
import { run as runCommand } from '../../lib/run'
import { readStatus, writeServing, writeStatus } from '../../lib/pid-file'
import { processStart } from '../../lib/process-info'
import { duration, format, report, type StatusReport } from '../../lib/status'
import { cli } from '../helpers/cli'

const dir = tempDir('fhr-status-')

t.test('--version and -v print the package version', async t => {
  const { version: expected } = JSON.parse(readFileSync(resolve(__dirname, '..', '..', 'package.json'), 'utf8'))
  t.equal(version(), expected)
  for (const flag of ['--version', '-v']) {
    const r = await cli(flag)
    t.equal(r.code, EXIT.ok)
    t.equal(r.out, `${expected}\n`)
  }
})

t.test('each command has --help and -h', async t => {
  for (const [args, usage] of [[['run', '--help'], /fastify-hot-restart run \[--pid-file/], [['run', '-h'], /Starts the app under a supervisor/],
    [['status', '--help'], /status --pid-file <path> \[--json\][\s\S]*Exit 0 when/], [['status', '-h'], /status --pid-file/],
    [['reload', '--help'], /Exit codes:/], [['--help'], /fastify-hot-restart --version/]] as Array<[string[], RegExp]>) {
    const r = await cli(...args)
    t.equal(r.code, EXIT.ok, args.join(' '))
    t.match(r.out, usage, args.join(' '))
    t.equal(r.err, '')
  }
  // run's help goes to stdout when no io.out is given
  let printed = ''
  const write = process.stdout.write
  process.stdout.write = ((s: string) => { printed += s; return true }) as typeof process.stdout.write
  let code
  try {
    code = await runCommand(['--help'], { err: { write: () => {} } })
  } finally {
    process.stdout.write = write
  }
  t.equal(code, EXIT.ok)
  t.match(printed, /^Usage:\n {2}fastify-hot-restart run/)
})

t.test('bad arguments: our messages (the option and what it expects) for every command, exit 2', async t => {
  const cases: Array<[string[], RegExp]> = [
    [['reload', '--pid-file', 'x', '--bogus'], /^unknown option --bogus for "reload": it takes --pid-file <path>, --timeout <ms>, --signal <name>, --help, --version/],
    [['stop', '--pid-file', 'x', '-x'], /^unknown option -x for "stop"/],
    [['--bogus'], /^unknown option --bogus for "fastify-hot-restart"/],
    [['reload', '--pid-file'], /^--pid-file expects a value: --pid-file <path> \(a value that starts with "-" goes as --pid-file=<value>\)/],
    [['reload', '--pid-file', '--timeout', '5'], /^--pid-file expects a value: --pid-file <path>/],
    [['reload', '--help=yes'], /^--help takes no value/],
    [['status'], /^missing --pid-file <path>\n\nUsage:\n {2}fastify-hot-restart status/],
    [['status', '--pid-file', 'x', 'extra'], /^unexpected argument "extra": "status" takes options only/],
    [['status', '--pid-file', 'x', '--json=1'], /^--json takes no value/],
    [['status', '--pid-file', 'x', '--timeout', '1'], /^unknown option --timeout for "status": it takes --pid-file <path>, --json, --help/],
    [['run', '--workers'], /^--workers expects a value: --workers <n>/],
    [['run', '--bogus', '1', '--', 'node', 'app.js'], /^unknown option --bogus for "run"/],
    [['run', '--listen', '--workers', '2', 'app.js'], /^--listen expects a value: --listen <address>/]
  ]
  for (const [args, message] of cases) {
    const r = await cli(...args)
    t.equal(r.code, EXIT.usage, args.join(' '))
    t.match(r.err, message, args.join(' '))
    t.notMatch(r.err, /ERR_PARSE_ARGS|Unknown option|argument missing/, args.join(' '))
  }
  // after a usage error: the usage lines and a pointer to --help, not the whole help
  const r = await cli('reload')
  t.match(r.err, /missing --pid-file <path>\n\nUsage:\n[\s\S]*`fastify-hot-restart --help` says more\.\n$/)
  t.notMatch(r.err, /Exit codes:/)
})

t.test('status without a server: exit 3 with the reason, in JSON too', async t => {
  const missing = join(dir, 'none.pid')
  const r = await cli('status', '--pid-file', missing)
  t.equal(r.code, EXIT.noServer)
  t.match(r.err, /^not running: no pid file at .*none\.pid/)
  const j = await cli('status', '--pid-file', missing, '--json')
  t.equal(j.code, EXIT.noServer)
  t.same(JSON.parse(j.out), { pidFile: missing, running: false, problem: `no pid file at ${missing}: is the server running? Start it first (with the pidFile option set to this path).` })

  const malformed = join(dir, 'malformed.pid')
  writeFileSync(malformed, 'x\n')
  t.match(report(malformed), { running: false, problem: /does not hold a pid/ })
  const folder = join(dir, 'folder.pid')
  mkdirSync(folder)
  t.match(report(folder), { running: false, problem: /refusing to use .*folder\.pid: it is a folder/ })
  const stale = join(dir, 'stale.pid')
  writeFileSync(stale, '999999999\n')
  t.match(report(stale), { running: false, problem: /stale pid file .*: no process 999999999/ })
  const foreign = join(dir, 'foreign.pid')
  writeFileSync(foreign, `${process.pid}\n`)
  t.match(report(foreign), { running: false, problem: /is not a fastify-hot-restart server/ })
})

t.test('status: states, history and formatting from status files', async t => {
  const pidFile = join(dir, 'crafted.pid')
  // an older server's status file: no start time, an upgrade under way
  writeFileSync(pidFile, `${process.pid}\n`)
  writeFileSync(`${pidFile}.status`, JSON.stringify({ pid: process.pid, generation: 4, attempt: 1, attempts: { 1: { state: 'upgrading' } }, start: processStart(process.pid) }))
  const old = report(pidFile)
  t.match(old, { running: true, state: 'upgrading', since: null, uptimeMs: null, supervised: false, attempts: [{ state: 'upgrading', pid: process.pid }] })
  t.notOk('durationMs' in (old as { attempts: object[] }).attempts[0]!)
  t.match(format(old), /up {10}unknown\n/)

  // a supervisor's, reloading
  writeServing(pidFile, process.pid, 2)
  writeStatus(pidFile, { pid: process.pid, generation: 2, attempt: 1, attempts: { 1: { state: 'upgrading', startedAt: 1 } }, state: 'reloading', servingPids: [999999999], draining: [999999999] })
  // 1d 1h 1m 1s after the time written (not after Date.now(): a loaded machine may take a second)
  const sup = report(pidFile, readStatus(pidFile)!.since! + 90_061_000)
  t.match(sup, { state: 'upgrading', supervised: true, serving: [{ pid: 999999999, connections: null }], draining: [], generation: 2 })
  const text = format(sup)
  t.match(text, new RegExp(`^supervisor  pid ${process.pid}\nserving     pid 999999999\ngeneration  2\nstate       upgrading\nup          1d 1h 1m 1s \\(since .*Z\\)\ndraining    nothing\n`))
  t.match(text, /\n {2}1970-01-01T00:00:00.001Z {2}upgrading by pid \d+\n$/)

  t.equal(duration(250), '250 ms')
  t.equal(duration(65_000), '1m 5s')
  t.equal(duration(3_600_000), '1h 0m 0s')
  const crafted: Extract<StatusReport, { running: true }> = {
    pidFile,
    running: true,
    pid: 10,
    supervised: false,
    serving: [{ pid: 10, connections: 1 }],
    generation: 3,
    state: 'serving',
    since: 'now',
    uptimeMs: 5,
    draining: [{ pid: 9, connections: null }, { pid: 8, connections: 2 }],
    attempts: [{ state: 'failed', code: 'FST_X', message: 'it broke', pid: 10, successorPid: 11, generation: 4, startedAt: 0, endedAt: 7, durationMs: 7 }, { state: 'refused' }]
  }
  const people = format(crafted)
  t.match(format({ ...crafted, serving: [] }), /^serving {5}nothing\n/)
  t.match(people, /serving {5}pid 10, 1 open connection\n/)
  t.match(people, /draining {4}pid 9; pid 8, 2 open connections\n/)
  t.match(people, /attempts {4}\(newest first\)\n {2}1970-01-01T00:00:00.000Z {2}failed {4}by pid 10, successor pid 11, generation 4, 7 ms: it broke \(FST_X\)\n {2}refused {3}\n$/)
})

t.test('a successor carries its predecessors\' attempts as history, the one that started it marked succeeded', async t => {
  const pidFile = join(dir, 'carry.pid')
  // a status file from before history existed
  writeFileSync(`${pidFile}.status`, JSON.stringify({ pid: 100, generation: 1, attempt: 2, attempts: { 1: { state: 'refused', code: 'X' }, 2: { state: 'upgrading', startedAt: 5 } } }))
  writeServing(pidFile, 200, 2, undefined, 100)
  writeServing(pidFile, 300, 3, undefined, 200)
  t.match(readStatus(pidFile), {
    pid: 300,
    draining: [200],
    history: [{ state: 'refused', code: 'X', pid: 100 }, { state: 'succeeded', pid: 100, startedAt: 5, endedAt: Number, successorPid: 200, generation: 2 }]
  })
  writeServing(pidFile, 400, 4, undefined, 999)
  t.same(readStatus(pidFile)!.history, [], 'a status file of another process than the predecessor is not carried')
  writeStatus(pidFile, { pid: 500, generation: 5, attempt: 0, attempts: {} })
  t.same(readStatus(pidFile), { pid: 500, generation: 5, attempt: 0, attempts: {} }, 'a write for another pid keeps nothing of the last one')
})

t.test('openConnections counts established TCP and connected unix sockets of the process (fake /proc)', async t => {
  const proc = tempDir('fhr-proc-')
  mkdirSync(join(proc, '7', 'fd'), { recursive: true })
  mkdirSync(join(proc, '7', 'net'))
  for (const [fd, target] of [['3', 'socket:[100]'], ['4', 'socket:[101]'], ['5', 'socket:[102]'], ['6', 'socket:[103]'], ['7', 'socket:[104]'], ['8', '/dev/null']]) {
    symlinkSync(target as string, join(proc, '7', 'fd', fd as string))
  }
  writeFileSync(join(proc, '7', 'fd', '9'), '') // not a link: skipped
  const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n'
  const tcpRow = (st: string, inode: string): string => `   0: 0100007F:1F90 0100007F:D431 ${st} 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0 20 4 30 10 -1\n`
  // 100 established, 101 listening, 999 established but another process's
  writeFileSync(join(proc, '7', 'net', 'tcp'), header + tcpRow('01', '100') + tcpRow('0A', '101') + tcpRow('01', '999'))
  // no tcp6 table (IPv6 off): nothing counted from it
  writeFileSync(join(proc, '7', 'net', 'unix'), 'Num       RefCount Protocol Flags    Type St Inode Path\n' +
    '0000: 00000003 00000000 00000000 0001 03 102 /tmp/app.sock\n' + // accepted on a path
    '0000: 00000003 00000000 00000000 0001 03 103\n' + // a socketpair (IPC)
    '0000: 00000002 00000000 00010000 0001 01 104 /tmp/app.sock\n') // the listener
  t.equal(openConnections(7, proc), 2)
  t.equal(openConnections(8, proc), undefined, 'no such process')
  t.equal(openConnections(process.pid), 0, 'this test process has no connection')
})
