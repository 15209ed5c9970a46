/**
 * The working directory every generation starts in, shared by the upgrader (standalone mode)
 * and the supervisor (`run`): a module of its own, so that the CLI does not load the
 * generation core to learn it.
 */
import { realpathSync } from 'node:fs'

/**
 * The working directory the first generation started in, as the user named it (PWD): a
 * `current -> releases/N` symlink stays a symlink, so that each successor re-resolves it and
 * picks up new code.
 */
export function initialCwd (): string {
  const pwd = process.env.PWD
  try {
    if (pwd !== undefined && realpathSync(pwd) === process.cwd()) return pwd
  } catch {}
  return process.cwd()
}
