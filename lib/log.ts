/**
 * The logger contract every part of the library logs through, and the default logger of the
 * node:http adapter and the CLI's `run` (JSON lines, like pino's).
 *
 * A log call never throws: the drain, the atExit hooks and the exit run after it. So an entry
 * that JSON cannot encode as it is (a circular object, a BigInt, a getter that throws) is
 * written with what can be encoded, and an output that is gone (a closed pipe) loses the line,
 * not the process.
 */

/** A pino-compatible logger. */
export interface Logger {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  error (obj: object, msg: string): void
}

/** An error as a log line shows it (pino's `err` serializer's fields). */
function serializeError (err: Error): Record<string, unknown> {
  const code = (err as { code?: unknown }).code
  return { type: err.name, message: err.message, ...(code === undefined ? {} : { code }), stack: err.stack }
}

/**
 * A JSON.stringify replacer: errors (anywhere in the entry) as type, message, code and stack; a
 * reference to an object that contains it as `[Circular]`; BigInts as strings.
 */
function replacer (): (this: unknown, key: string, value: unknown) => unknown {
  const ancestors: unknown[] = []
  return function (this: unknown, _key: string, value: unknown): unknown {
    if (typeof value === 'bigint') return value.toString()
    if (typeof value !== 'object' || value === null) return value
    // `this` is the object that holds `value`: the ones above it on the stack are not its parents
    while (ancestors.length > 0 && ancestors.at(-1) !== this) ancestors.pop()
    if (ancestors.includes(value)) return '[Circular]'
    const shown = value instanceof Error ? serializeError(value) : value
    ancestors.push(shown)
    return shown
  }
}

/** One line of JSON; never throws (what cannot be encoded is replaced by why). */
export function formatLine (level: number, obj: object, msg: string): string {
  const time = Date.now()
  try {
    return `${JSON.stringify({ level, time, pid: process.pid, ...obj, msg }, replacer())}\n`
  } catch (err) {
    // a getter that throws, a toJSON that throws: the line keeps its message
    return `${JSON.stringify({ level, time, pid: process.pid, msg, logError: err instanceof Error ? err.message : String(err) })}\n`
  }
}

const guarded = new WeakSet<NodeJS.WriteStream>()

/** Writes a line; an output that is closed or broken (EPIPE, EBADF) loses the line, nothing else. */
function write (stream: NodeJS.WriteStream, line: string): void {
  // a pipe whose reader has gone fails the write later, as an 'error' event: unheard, that
  // event would end the process before its hooks run (`node app.js | head`, then Ctrl-C)
  if (!guarded.has(stream)) {
    guarded.add(stream)
    stream.on('error', () => {})
  }
  try {
    stream.write(line)
  } catch {
    // a synchronous write to a closed fd throws; nothing to tell, nowhere to tell it
  }
}

/** One JSON line per entry, like pino's, so that logs read the same as the Fastify plugin's. */
export const jsonLogger: Logger = {
  info: (obj, msg) => { write(process.stdout, formatLine(30, obj, msg)) },
  warn: (obj, msg) => { write(process.stderr, formatLine(40, obj, msg)) },
  error: (obj, msg) => { write(process.stderr, formatLine(50, obj, msg)) }
}

/** A pino logger's destination (pino keeps it under a symbol, inherited by child loggers). */
function pinoStream (log: unknown): { _writing?: unknown } | undefined {
  for (let o = log; typeof o === 'object' && o !== null; o = Object.getPrototypeOf(o)) {
    const key = Object.getOwnPropertySymbols(o).find(symbol => symbol.description === 'pino.stream')
    if (key !== undefined) return (o as Record<symbol, { _writing?: unknown } | undefined>)[key]
  }
  return undefined
}

/**
 * Waits, at most `timeout` ms, until a pino logger (Fastify's) has no write in progress; any
 * other logger: at once. Called before the process exits. pino writes asynchronously and, at
 * exit, writes what is left synchronously: on a pipe whose reader has gone, that synchronous
 * write retries forever (sonic-boom 4 retries every error), and the process never exits, unless
 * an asynchronous write met the broken pipe first, which makes pino stop writing. So the last
 * asynchronous write is let to finish.
 */
export async function settleLogger (log: unknown, timeout = 1000): Promise<void> {
  const stream = pinoStream(log)
  const until = performance.now() + timeout
  while (stream?._writing === true && performance.now() < until) {
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}
