import { execFileSync } from 'node:child_process'
import { type Stats, chmodSync, chownSync, closeSync, ftruncateSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, watch, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { checkPidFile, parseStatus, readPid, readStatus, removeIfOurs, statusPath, writeFileAtomic, writeServing, writeStatus } from '../../lib/pid-file'
import { kindOf, lstatOrUndefined, readSmallFile } from '../../lib/safe-file'
import { tempDir } from '../helpers/app'

const dir = tempDir('fhr-pid-')

t.test('atomic writes leave no temporary file and use mode 0644', async t => {
  const path = join(dir, 'a.pid')
  writeFileAtomic(path, '1\n')
  t.equal(readFileSync(path, 'utf8'), '1\n')
  t.equal(statSync(path).mode & 0o777, 0o644)
  t.same(readdirSync(dir), ['a.pid'])
  t.throws(() => writeFileAtomic(join(dir, 'missing', 'b.pid'), 'x'), { code: 'ENOENT' })
  // a rename that fails (the target is a folder) removes the temporary file
  mkdirSync(join(dir, 'folder'))
  t.throws(() => writeFileAtomic(join(dir, 'folder'), 'x'))
  t.same(readdirSync(dir).sort(), ['a.pid', 'folder'])
})

t.test('a write replaces the file by renaming a temporary file from the same folder: never half-written', async t => {
  const folder = tempDir('fhr-pid-atomic-')
  const path = join(folder, 'app.pid')
  writeFileAtomic(path, 'old\n')
  // a second name for the old file: it shows whether the old file was rewritten in place
  linkSync(path, join(folder, 'old'))
  const names: string[] = []
  const watcher = watch(folder)
  t.teardown(() => watcher.close())
  const replaced = new Promise<void>(resolve => watcher.on('change', (_event, name) => {
    names.push(String(name))
    if (name === 'app.pid') resolve()
  }))
  writeFileAtomic(path, 'new\n')
  await replaced
  t.equal(readFileSync(path, 'utf8'), 'new\n')
  t.equal(readFileSync(join(folder, 'old'), 'utf8'), 'old\n', 'the old file was never rewritten: a reader sees the old content or the new, whole')
  t.match(names[0], /^app\.pid\.[0-9a-f]{16}\.tmp$/, 'written first to a temporary file in the same folder, with a random name')
  t.same(readdirSync(folder).sort(), ['app.pid', 'old'], 'which is gone')
})

t.test('checkPidFile', async t => {
  t.equal(checkPidFile(join(dir, 'ok.pid')), join(dir, 'ok.pid'))
  t.throws(() => checkPidFile(join(dir, 'nope', 'x.pid')), { code: 'FST_HOT_RESTART_PID_FILE', message: /the folder .*nope does not exist/ })
  writeFileSync(join(dir, 'file'), '')
  t.throws(() => checkPidFile(join(dir, 'file', 'x.pid')), { code: 'FST_HOT_RESTART_PID_FILE', message: /is not a folder/ })
  t.throws(() => checkPidFile(join(dir, 'folder')), { code: 'FST_HOT_RESTART_PID_FILE', message: /folder: it exists and is a folder, not a regular file/ })
  execFileSync('mkfifo', [join(dir, 'planted.pid.status')])
  t.throws(() => checkPidFile(join(dir, 'planted.pid')), { code: 'FST_HOT_RESTART_PID_FILE', message: /its status file .*planted\.pid\.status exists and is a FIFO, not a regular file/ })
  const locked = join(dir, 'locked')
  mkdirSync(locked)
  chmodSync(locked, 0o500)
  // root may write in a 0500 folder; not in /proc/sys (read-only for everyone, or mounted so)
  const readOnly = process.getuid?.() === 0 ? '/proc/sys' : locked
  t.throws(() => checkPidFile(join(readOnly, 'x.pid')), { code: 'FST_HOT_RESTART_PID_FILE', message: /the folder .* is not writable \((EACCES|EROFS)\)/ })
  // a path whose parent cannot be searched gives another stat error than ENOENT
  t.throws(() => checkPidFile(join(dir, 'file', 'deeper', 'x.pid')), { code: 'FST_HOT_RESTART_PID_FILE', message: /is not writable \(ENOTDIR\)/ })
})

t.test('readPid, readStatus, writeServing, removeIfOurs', async t => {
  const pidFile = join(dir, 'srv.pid')
  t.equal(readPid(pidFile), 'missing')
  t.equal(readPid(dir), 'unreadable')
  writeFileSync(pidFile, 'abc')
  t.equal(readPid(pidFile), 'malformed')
  t.equal(readStatus(pidFile), undefined)
  writeFileSync(statusPath(pidFile), '{"pid":"x"}')
  t.equal(readStatus(pidFile), undefined)
  writeServing(pidFile, 1234, 3)
  t.equal(readPid(pidFile), 1234)
  t.match(readStatus(pidFile), { pid: 1234, generation: 3, attempt: 0, attempts: {}, since: Number, draining: [], history: [] })

  const attempts: Record<string, { state: 'refused' }> = {}
  for (let i = 1; i <= 15; i++) attempts[i] = { state: 'refused' }
  writeStatus(pidFile, { pid: 1234, generation: 3, attempt: 15, attempts })
  t.same(Object.keys(readStatus(pidFile)!.attempts).map(Number).sort((a, b) => a - b), [6, 7, 8, 9, 10, 11, 12, 13, 14, 15], 'the last 10 attempts are kept')

  removeIfOurs(pidFile, 999)
  t.equal(readPid(pidFile), 1234, 'not ours: left alone')
  removeIfOurs(pidFile, 1234)
  t.equal(readPid(pidFile), 'missing')
  t.equal(readStatus(pidFile), undefined)
})

t.test('atomic writes never follow a planted symlink, nor rename over what is not a regular file', async t => {
  const sub = tempDir('fhr-pid-')
  const victim = join(sub, 'victim')
  writeFileSync(victim, 'precious\n', { mode: 0o600 })
  const path = join(sub, 'app.pid')
  // the old temporary names were `<path>.<pid>.<n>.tmp`: plant the next few hundred of them
  for (let n = 1; n <= 300; n++) symlinkSync(victim, `${path}.${process.pid}.${n}.tmp`)
  writeFileAtomic(path, '42\n')
  t.equal(readFileSync(victim, 'utf8'), 'precious\n', 'the symlinks\' target is untouched')
  t.ok(lstatSync(path).isFile(), 'the pid file is a regular file, not a moved symlink')
  t.equal(readFileSync(path, 'utf8'), '42\n')
  t.same(readdirSync(sub).filter(f => !f.includes(`.${process.pid}.`)).sort(), ['app.pid', 'victim'], 'no temporary file is left')

  // what is at the path already: a symlink, a FIFO, a folder are refused, and left alone
  const link = join(sub, 'link.pid')
  symlinkSync(victim, link)
  t.throws(() => writeFileAtomic(link, '1\n'), { code: 'FST_HOT_RESTART_UNSAFE_FILE', message: /link\.pid.*is a symbolic link, not a regular file/ })
  t.ok(lstatSync(link).isSymbolicLink())
  const fifo = join(sub, 'fifo.pid')
  execFileSync('mkfifo', [fifo])
  t.throws(() => writeFileAtomic(fifo, '1\n'), { code: 'FST_HOT_RESTART_UNSAFE_FILE', message: /is a FIFO/ })
  t.equal(readFileSync(victim, 'utf8'), 'precious\n')
  t.equal(readdirSync(sub).filter(f => f.endsWith('.tmp') && !f.includes(`.${process.pid}.`)).length, 0, 'no temporary file is left')
})

t.test('reads never block, and are bounded: a FIFO, a device, a huge file are refused at once', async t => {
  const sub = tempDir('fhr-pid-')
  const pidFile = join(sub, 'app.pid')
  execFileSync('mkfifo', [pidFile, statusPath(pidFile)])
  t.throws(() => readStatus(pidFile), { code: 'FST_HOT_RESTART_UNSAFE_FILE', message: /app\.pid\.status.*is a FIFO, not a regular file/ })
  t.equal(readPid(pidFile), 'unreadable')
  t.equal(readPid('/dev/zero'), 'unreadable')
  const huge = join(sub, 'huge.pid')
  const fd = openSync(huge, 'w')
  ftruncateSync(fd, 1024 ** 3) // sparse: 1 GB that takes no room
  closeSync(fd)
  t.equal(readPid(huge), 'unreadable', 'a pid file is a few bytes')
  t.throws(() => readSmallFile(huge, 64), { code: 'FST_HOT_RESTART_UNSAFE_FILE', message: /is 1073741824 bytes, more than 64/ })
  writeFileSync(statusPath(huge), 'x'.repeat(70_000))
  t.throws(() => readStatus(huge), { code: 'FST_HOT_RESTART_UNSAFE_FILE', message: /more than 65536/ })
  t.throws(() => readSmallFile(join(sub, 'none'), 64), { code: 'ENOENT' })
})

t.test('the server reads its status file only if it is its own user\'s or root\'s', { skip: process.getuid?.() !== 0 && 'needs root, to chown a file to another user' }, async t => {
  const pidFile = join(tempDir('fhr-pid-'), 'app.pid')
  writeServing(pidFile, process.pid, 1)
  chownSync(statusPath(pidFile), 65534, 65534)
  t.throws(() => readStatus(pidFile), { code: 'FST_HOT_RESTART_UNSAFE_FILE', message: /owned by uid 65534/ })
  chownSync(statusPath(pidFile), 0, 0)
  t.equal(readStatus(pidFile)?.pid, process.pid)
})

t.test('kindOf names every kind of file; lstatOrUndefined; a file that reads longer than its size', async t => {
  const kinds = ['isFile', 'isDirectory', 'isSymbolicLink', 'isFIFO', 'isSocket', 'isCharacterDevice', 'isBlockDevice']
  const stub = (kind: string): Stats => Object.fromEntries(kinds.map(k => [k, () => k === kind])) as unknown as Stats
  t.same(kinds.map(kind => kindOf(stub(kind))), ['a regular file', 'a folder', 'a symbolic link', 'a FIFO', 'a socket', 'a character device', 'a block device'])
  t.equal(lstatOrUndefined(join(dir, 'none')), undefined)
  writeFileSync(join(dir, 'plain'), '')
  t.throws(() => lstatOrUndefined(join(dir, 'plain', 'x')), { code: 'ENOTDIR' })
  // /proc files say size 0 and hold more
  t.throws(() => readSmallFile('/proc/self/status', 64), { code: 'FST_HOT_RESTART_UNSAFE_FILE', message: /it is more than 64 bytes/ })
})

t.test('removeIfOurs never throws (a folder where the status file goes)', async t => {
  const pidFile = join(tempDir('fhr-pid-'), 'app.pid')
  writeServing(pidFile, 4321, 1)
  rmSync(statusPath(pidFile))
  mkdirSync(statusPath(pidFile))
  writeFileSync(join(statusPath(pidFile), 'x'), '')
  removeIfOurs(pidFile, 4321)
  t.ok(statSync(statusPath(pidFile)).isDirectory(), 'left alone')
})

t.test('a status file\'s text is a status only with a pid, an attempt counter and an attempts object', async t => {
  t.ok(parseStatus('{"pid":1,"attempt":0,"attempts":{}}'))
  for (const text of ['not json', '{"attempt":0,"attempts":{}}', '{"pid":1,"attempts":{}}', '{"pid":1,"attempt":0}', '{"pid":1,"attempt":0,"attempts":null}']) {
    t.equal(parseStatus(text), undefined, text)
  }
})
