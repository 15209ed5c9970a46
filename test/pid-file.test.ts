import { chmodSync, linkSync, mkdirSync, readdirSync, readFileSync, statSync, watch, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { checkPidFile, readPid, readStatus, removeIfOurs, statusPath, writeFileAtomic, writeServing, writeStatus } from '../lib/pid-file'
import { tempDir } from './helpers/app'

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
  t.match(names[0], /^app\.pid\.\d+\.\d+\.tmp$/, 'written first to a temporary file in the same folder')
  t.same(readdirSync(folder).sort(), ['app.pid', 'old'], 'which is gone')
})

t.test('checkPidFile', async t => {
  t.equal(checkPidFile(join(dir, 'ok.pid')), join(dir, 'ok.pid'))
  t.throws(() => checkPidFile(join(dir, 'nope', 'x.pid')), { code: 'FST_HOT_RESTART_PID_FILE', message: /the folder .*nope does not exist/ })
  writeFileSync(join(dir, 'file'), '')
  t.throws(() => checkPidFile(join(dir, 'file', 'x.pid')), { code: 'FST_HOT_RESTART_PID_FILE', message: /is not a folder/ })
  t.throws(() => checkPidFile(join(dir, 'folder')), { code: 'FST_HOT_RESTART_PID_FILE', message: /it exists and is not a file/ })
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
