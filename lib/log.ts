/**
 * The logger contract every part of the library logs through, and the default logger of the
 * node:http adapter and the CLI's `run` (JSON lines, like pino's).
 */

/** A pino-compatible logger. */
export interface Logger {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  error (obj: object, msg: string): void
}

/** One JSON line per entry, like pino's, so that logs read the same as the Fastify plugin's. */
export const jsonLogger: Logger = {
  info: (obj, msg) => { process.stdout.write(`${JSON.stringify({ level: 30, time: Date.now(), pid: process.pid, ...obj, msg })}\n`) },
  warn: (obj, msg) => { process.stderr.write(`${JSON.stringify({ level: 40, time: Date.now(), pid: process.pid, ...obj, msg })}\n`) },
  error: (obj, msg) => {
    const err = (obj as { err?: unknown }).err
    const record = err instanceof Error ? { ...obj, err: { type: err.name, message: err.message, code: (err as { code?: string }).code } } : obj
    process.stderr.write(`${JSON.stringify({ level: 50, time: Date.now(), pid: process.pid, ...record, msg })}\n`)
  }
}
