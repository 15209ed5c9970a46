/**
 * `run --watch <path>`: a development mode that reloads on file change through the normal
 * zero-downtime path (nodemon kills the server instead: requests in flight fail and the port is
 * refused until the new process listens). Changes are debounced (an editor's save is several
 * events, a `git checkout` hundreds); `node_modules` and `.git` are never watched, nor what
 * `--watch-ignore` names. A save that does not boot (a syntax error, a throw at boot) fails its
 * reload as any reload does: the serving generation serves on and the supervisor logs the
 * successor's error; the next change that boots takes over.
 */
import { watch, type FSWatcher } from 'node:fs'
import { isAbsolute, join, relative, resolve, sep } from 'node:path'

/** How long the files must be quiet before a reload (ms). */
export const DEBOUNCE = 200

/** Folders never watched, wherever they are. */
const ALWAYS_IGNORED = ['node_modules', '.git']

export interface WatchOptions {
  /** Files or folders (folders recursively). */
  paths: string[]
  /** Folder or file names (`dist`), or paths (`src/generated`), relative to the working folder or absolute. */
  ignore: string[]
  /** Called once the files have been quiet for `debounce` ms, with the files that changed. */
  onChange (files: string[]): void
  debounce?: number
  cwd?: string
}

/**
 * Watches `paths`.
 * @returns the remover
 * @throws an Error naming a path that cannot be watched (it does not exist)
 */
export function watchFiles ({ paths, ignore, onChange, debounce = DEBOUNCE, cwd = process.cwd() }: WatchOptions): () => void {
  const names = [...ALWAYS_IGNORED, ...ignore.filter(i => !i.includes('/'))]
  const prefixes = ignore.filter(i => i.includes('/')).map(i => resolve(cwd, i))
  const ignored = (file: string): boolean =>
    relative(cwd, file).split(sep).some(part => names.includes(part)) ||
    prefixes.some(prefix => file === prefix || file.startsWith(`${prefix}${sep}`))
  const changed = new Set<string>()
  let timer: NodeJS.Timeout | undefined
  const watchers: FSWatcher[] = []
  const close = (): void => {
    clearTimeout(timer)
    for (const watcher of watchers.splice(0)) watcher.close()
  }
  for (const path of paths) {
    const root = resolve(cwd, path)
    const watcher = watch(root, { recursive: true }, (_event, filename) => {
      /* c8 ignore next: Linux always names the file */
      const file = filename === null ? root : isAbsolute(filename) ? filename : join(root, filename)
      if (ignored(file)) return
      changed.add(file)
      clearTimeout(timer)
      timer = setTimeout(() => {
        const files = [...changed]
        changed.clear()
        onChange(files)
      }, debounce)
    })
    /* c8 ignore next: a watched folder removed; nothing is left to watch there */
    watcher.on('error', () => {})
    watchers.push(watcher)
  }
  return close
}

/** What reloadOnChange needs of the supervisor. */
export interface Reloadable {
  reload (trigger: string): Promise<unknown>
}

/** Logger calls it makes; a pino logger fits. */
interface InfoLogger {
  info (obj: object, msg: string): void
}

/** How long to wait before asking again while the previous generation drains (ms), and how often at most. */
const RETRY_EVERY = 250
const MAX_RETRIES = 240

/**
 * Reloads `supervisor` when a file under `paths` changes. A change during a reload asks for one
 * more once it is done (the last save always gets its reload); a reload refused because the
 * previous generation still drains is asked again every 250 ms (for at most a minute).
 * @returns the remover
 */
export function reloadOnChange (supervisor: Reloadable, paths: string[], ignore: string[], log: InfoLogger): () => void {
  let running = false
  let again = false
  const reload = async (): Promise<void> => {
    for (let retry = 0; retry < MAX_RETRIES; retry++) {
      try {
        await supervisor.reload('watch')
        return
      } catch (err) {
        // failed or refused: logged by the supervisor; only a drain in the way is worth a retry
        if ((err as { code?: string }).code !== 'FST_HOT_RESTART_PREDECESSOR_DRAINING') return
        await new Promise(resolve => setTimeout(resolve, RETRY_EVERY))
      }
    }
  }
  const onChange = (files: string[]): void => {
    log.info({ event: 'supervisor.watch.changed', files }, `hot-restart supervisor: ${files.length} file(s) changed; reloading`)
    if (running) {
      again = true
      return
    }
    running = true
    void (async () => {
      do {
        again = false
        await reload()
      } while (again)
      running = false
    })()
  }
  return watchFiles({ paths, ignore, onChange })
}
