// The protocol's validators, in-process: every message type, well formed or not, both ways.
import t from 'tap'
import { checkSocketEntry, readGenerationMessage, readSupervisorMessage } from '../../lib/protocol'

const requested = { host: '127.0.0.1', port: 0 }
const tcp = { fd: 3, kind: 'tcp', requested, address: '127.0.0.1', port: 3000 }

t.test('socket entries, per kind', async t => {
  t.equal(checkSocketEntry(tcp), undefined)
  t.equal(checkSocketEntry({ ...tcp, kind: 'udp', name: 'dns' }), undefined)
  t.equal(checkSocketEntry({ fd: 4, kind: 'unix', requested: { ...requested, path: '/s' }, path: '/s' }), undefined)
  t.match(checkSocketEntry(null), /not an object/)
  t.match(checkSocketEntry([]), /not an object/)
  t.match(checkSocketEntry({ ...tcp, fd: -1 }), /"fd" is not an integer \(got -1\)/)
  t.match(checkSocketEntry({ ...tcp, requested: null }), /malformed "requested"/)
  t.match(checkSocketEntry({ ...tcp, requested: { host: 1, port: 0 } }), /malformed "requested"/)
  t.match(checkSocketEntry({ ...tcp, requested: { host: '', port: -1 } }), /malformed "requested"/)
  t.match(checkSocketEntry({ ...tcp, requested: { host: '', port: 0, path: 5 } }), /malformed "requested"/)
  t.match(checkSocketEntry({ ...tcp, name: '' }), /"name" is not a non-empty string/)
  t.match(checkSocketEntry({ ...tcp, port: 0 }), /a tcp socket needs "address" and "port"/)
  t.match(checkSocketEntry({ ...tcp, kind: 'udp', address: 1 }), /a udp socket needs/)
  t.match(checkSocketEntry({ ...tcp, kind: 'unix' }), /a unix socket needs "path"/)
  t.match(checkSocketEntry({ ...tcp, kind: 'sctp' }), /unknown kind "sctp"/)
})

t.test('what a generation sends', async t => {
  for (const raw of [undefined, null, 'ready', [], { type: 'ready' }, { hotRestart: 1 }]) t.equal(readGenerationMessage(raw), undefined, 'not ours')
  for (const message of [
    { hotRestart: 'ready', pid: 5 }, { hotRestart: 'ready' }, { hotRestart: 'ready', pid: 5, successorNice: 19 }, { hotRestart: 'error', message: 'boom' },
    { hotRestart: 'socket', entry: tcp }, { hotRestart: 'upgrade', id: 1 }, { hotRestart: 'connection', socket: '127.0.0.1:3000' },
    { hotRestart: 'standing-by', pid: 5 }, { hotRestart: 'standing-by' }, { hotRestart: 'connection', socket: '127.0.0.1:3000', credit: true }
  ]) t.same(readGenerationMessage(message), { message })
  t.same(readGenerationMessage({ hotRestart: 'connection', socket: '127.0.0.1:3000', credit: 1 }), { rejected: '"connection": "credit" is not true' })
  t.same(readGenerationMessage({ hotRestart: 'standing-by', pid: 0 }), { rejected: '"standing-by": "pid" is not a pid' })
  t.same(readGenerationMessage({ hotRestart: 'connection', fd: 3 }), { rejected: '"connection": "socket" is not the address of a listening socket' })
  t.same(readGenerationMessage({ hotRestart: 'ready', pid: 'x' }), { rejected: '"ready": "pid" is not a pid' })
  for (const successorNice of [-1, 20, 'x']) {
    t.same(readGenerationMessage({ hotRestart: 'ready', successorNice }), { rejected: '"ready": "successorNice" is not an integer from 0 to 19' })
  }
  t.same(readGenerationMessage({ hotRestart: 'error', message: 3 }), { rejected: '"error": "message" is not a string' })
  t.same(readGenerationMessage({ hotRestart: 'socket' }), { rejected: '"socket": the entry is not an object' })
  t.same(readGenerationMessage({ hotRestart: 'upgrade', id: 0 }), { rejected: '"upgrade": "id" is not a positive integer' })
  t.same(readGenerationMessage({ hotRestart: 'drain' }), { rejected: '"drain": unknown type' })
})

t.test('what the supervisor sends', async t => {
  t.equal(readSupervisorMessage({ pid: 1 }), undefined, 'not ours')
  const result = { pid: 6, generation: 3, readyMs: 10 }
  for (const message of [
    { hotRestart: 'drain', successorPid: 6, generation: 3, signalToReadyMs: 0 }, { hotRestart: 'shutdown' },
    { hotRestart: 'drain', successorPid: 6, generation: 3, signalToReadyMs: 0, relayCredits: true }, { hotRestart: 'relayed' },
    { hotRestart: 'predecessor', pid: 4 }, { hotRestart: 'predecessor-exited' }, { hotRestart: 'go' }, { hotRestart: 'connection', socket: '/tmp/app.sock' },
    { hotRestart: 'upgraded', id: 1, result }, { hotRestart: 'upgraded', id: 2, error: { message: 'busy' } },
    { hotRestart: 'upgraded', id: 3, error: { code: 'FST_HOT_RESTART_UPGRADE_IN_PROGRESS', message: 'busy' } }
  ]) t.same(readSupervisorMessage(message), { message })
  t.match(readSupervisorMessage({ hotRestart: 'drain', successorPid: 6 }), { rejected: /"drain": needs/ })
  t.match(readSupervisorMessage({ hotRestart: 'drain', successorPid: 6, generation: 3, signalToReadyMs: 0, relayCredits: 'yes' }), { rejected: '"drain": "relayCredits" is not a boolean' })
  t.match(readSupervisorMessage({ hotRestart: 'predecessor' }), { rejected: /"predecessor": "pid" is not a pid/ })
  t.match(readSupervisorMessage({ hotRestart: 'connection', socket: '' }), { rejected: /"connection": "socket" is not/ })
  t.same(readSupervisorMessage({ hotRestart: 'connection', socket: '/tmp/app.sock', credit: false }), { rejected: '"connection": "credit" is not true' })
  t.match(readSupervisorMessage({ hotRestart: 'upgraded', result }), { rejected: /"id" is not a positive integer/ })
  t.match(readSupervisorMessage({ hotRestart: 'upgraded', id: 1 }), { rejected: /needs a "result" or an "error"/ })
  t.match(readSupervisorMessage({ hotRestart: 'upgraded', id: 1, result: { pid: 1 } }), { rejected: /needs a "result"/ })
  t.match(readSupervisorMessage({ hotRestart: 'upgraded', id: 1, error: 'busy' }), { rejected: /needs a "result"/ })
  t.match(readSupervisorMessage({ hotRestart: 'upgraded', id: 1, error: { message: 'x', code: 5 } }), { rejected: /needs a "result"/ })
  t.match(readSupervisorMessage({ hotRestart: 'ready' }), { rejected: /"ready": unknown type/ })
})
