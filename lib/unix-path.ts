/**
 * Binding a unix socket without ever unlinking its path on close: Node (libuv) unlinks the path
 * a socket was bound to when it closes, which would delete the path a successor serves. So the
 * socket is bound to a temporary name beside the path and renamed onto it. The name is random
 * (a predictable one can be planted by another user in a shared folder: the bind then fails
 * EADDRINUSE), and only a socket of our own user is renamed (never a planted symlink).
 */
import { randomBytes } from 'node:crypto'
import { renameSync, rmSync } from 'node:fs'
import { lstatOrUndefined } from './safe-file'

/**
 * Calls `bind` with a fresh temporary path beside `path`, then renames what it bound onto
 * `path`, if it is a socket of this process's user. A failed bind (nothing at the temporary
 * path) renames nothing.
 * @returns what `bind` returned
 * @throws what `bind` or the rename throws
 */
export function bindUnixPath<T> (path: string, bind: (temp: string) => T): T {
  const temp = `${path}.${randomBytes(8).toString('hex')}.sock`
  const bound = bind(temp)
  const stats = lstatOrUndefined(temp)
  /* c8 ignore next: there is no uid on Windows */
  const uid = process.geteuid?.() ?? stats?.uid
  if (stats?.isSocket() === true && stats.uid === uid) renameSync(temp, path)
  return bound
}

/**
 * Removes a unix socket's path, if it is there: closing a socket bound by `bindUnixPath` never
 * does, so whoever stops serving a path for good (the last generation, the supervisor, the
 * successor that no longer listens there) removes it.
 */
export function removeUnixPath (path: string): void {
  rmSync(path, { force: true })
}
