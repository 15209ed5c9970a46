/**
 * Small files in a folder that other users may share (/tmp): read without blocking and with a
 * bound, checked on the opened fd; written through a fresh random name that nobody can have
 * planted, never through a symlink, and never renamed over something that is not a regular file.
 */
import { randomBytes } from 'node:crypto'
import { closeSync, constants, fchmodSync, fstatSync, lstatSync, openSync, readSync, renameSync, rmSync, writeSync, type Stats } from 'node:fs'
import { UnsafeFileError } from './errors'

/** What a path holds, in words, for a message ("a FIFO"). */
export function kindOf (stats: Stats): string {
  if (stats.isFile()) return 'a regular file'
  if (stats.isDirectory()) return 'a folder'
  if (stats.isSymbolicLink()) return 'a symbolic link'
  if (stats.isFIFO()) return 'a FIFO'
  if (stats.isSocket()) return 'a socket'
  if (stats.isCharacterDevice()) return 'a character device'
  return 'a block device'
}

/** A file read whole, with the stats of the fd it was read from. */
export interface SmallFile {
  text: string
  stats: Stats
}

/**
 * Reads a regular file of at most `limit` bytes. The open never blocks (`O_NONBLOCK`: a FIFO
 * would block `open()` until a writer comes, on the main thread) and never takes a terminal;
 * the type and size are checked on the opened fd, so a file swapped in between is caught too.
 * @throws the open's errno error (ENOENT, EACCES...); FST_HOT_RESTART_UNSAFE_FILE for anything
 * but a regular file, or one larger than `limit`
 */
export function readSmallFile (path: string, limit: number): SmallFile {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
  try {
    const stats = fstatSync(fd)
    if (!stats.isFile()) throw new UnsafeFileError(path, `it is ${kindOf(stats)}, not a regular file`)
    if (stats.size > limit) throw new UnsafeFileError(path, `it is ${stats.size} bytes, more than ${limit}`)
    // one byte more than allowed tells a file that grew since fstat
    const buffer = Buffer.alloc(limit + 1)
    let length = 0
    for (let n = -1; n !== 0 && length <= limit;) {
      n = readSync(fd, buffer, length, buffer.length - length, null)
      length += n
    }
    if (length > limit) throw new UnsafeFileError(path, `it is more than ${limit} bytes`)
    return { text: buffer.toString('utf8', 0, length), stats }
  } finally {
    closeSync(fd)
  }
}

/** Whether a file is owned by this process's user or by root. */
export function ownedByUsOrRoot (stats: Stats): boolean {
  /* c8 ignore next: there is no uid on Windows */
  const uid = process.geteuid?.() ?? stats.uid
  return stats.uid === uid || stats.uid === 0
}

/**
 * Writes `data` to `path` atomically, mode 0644 whatever the umask: a temporary file with a
 * random name in the same folder (created with O_EXCL|O_NOFOLLOW: never one planted in
 * advance, never through a symlink), then a rename. What is at `path` already must be a
 * regular file: a symlink, FIFO, socket or folder there is left alone and refused.
 * @throws the errno error of the write, or FST_HOT_RESTART_UNSAFE_FILE
 */
export function writeFileAtomic (path: string, data: string): void {
  const temp = `${path}.${randomBytes(8).toString('hex')}.tmp`
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644)
  try {
    try {
      fchmodSync(fd, 0o644)
      const bytes = Buffer.from(data)
      for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written)
    } finally {
      closeSync(fd)
    }
    const existing = lstatOrUndefined(path)
    if (existing !== undefined && !existing.isFile()) throw new UnsafeFileError(path, `it is ${kindOf(existing)}, not a regular file`)
    renameSync(temp, path)
  } catch (err) {
    rmSync(temp, { force: true })
    throw err
  }
}

/** lstat, or undefined when nothing is there. */
export function lstatOrUndefined (path: string): Stats | undefined {
  try {
    return lstatSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}
