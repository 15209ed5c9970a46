/**
 * `run --env-file <path>`: the file is read again for each generation's start (generation 1,
 * each reload, each crash restart), and its values are laid over the supervisor's environment
 * for that generation's workers only; the supervisor's own environment never changes.
 *
 * The syntax is the one of Node's `--env-file` (`util.parseEnv`, Node >= 20.12), read strictly:
 * `NAME=value` lines (an optional `export `), blank lines and `#` comments; a value may be quoted
 * with `"`, `'` or a backtick (the quotes are removed; a quoted value may span lines; in `"`
 * quotes `\n` is a newline); an unquoted value ends at ` #` and is trimmed of spaces. No `${}`
 * expansion. Where Node 20's parser guesses (a line with no `=`, a quote never closed, text after
 * the closing quote, a `#` inside an unquoted value, a name such as `1X` or `A B`; an indented
 * comment or a line of spaces even changes the next name), this one refuses the file and names
 * the line, so a typo fails a reload instead of starting the app with a value nobody wrote.
 * Names are those a shell takes: letters, digits and `_`, not starting with a digit. A name
 * given twice takes the last value, as in Node.
 */
import { EnvFileError } from './errors'
import { readSmallFile } from './safe-file'

/** The largest environment file read (bytes): an environment is limited to about 2 MiB anyway (ARG_MAX). */
export const ENV_FILE_LIMIT = 1024 * 1024

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const QUOTES = new Set(['"', "'", '`'])

/** Removes leading and trailing spaces (not tabs: Node keeps those). */
const trimSpaces = (s: string): string => s.replace(/^ +| +$/g, '')

/** A line that is not what the syntax allows: its number (from 1) and what is wrong. */
export interface EnvSyntaxError {
  line: number
  why: string
}

/**
 * Parses the text of an environment file.
 * @returns the values by name (a prototype-less object), or the first line that is wrong and why
 */
export function parseEnvText (text: string): { values: Record<string, string> } | EnvSyntaxError {
  // as Node: a carriage return is dropped wherever it is (CRLF files)
  const lines = text.replaceAll('\r', '').split('\n')
  const values: Record<string, string> = Object.create(null)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    const n = i + 1
    const trimmed = line.trim()
    if (trimmed === '' || trimmed.startsWith('#')) continue
    const eq = line.indexOf('=')
    if (eq === -1) return { line: n, why: 'expected NAME=value' }
    let name = trimSpaces(line.slice(0, eq))
    if (name.startsWith('export ')) name = name.slice('export '.length)
    if (!NAME.test(name)) return { line: n, why: `${JSON.stringify(name)} is not a variable name (letters, digits and _, not starting with a digit)` }
    const raw = line.slice(eq + 1)
    const rest = raw.replace(/^ +/, '')
    const quote = rest[0]
    let value: string
    if (quote !== undefined && QUOTES.has(quote)) {
      // the closing quote may be on a later line
      let body = rest.slice(1)
      let end = body.indexOf(quote)
      let last = i
      while (end === -1 && last + 1 < lines.length) {
        body += `\n${lines[++last]}`
        end = body.indexOf(quote)
      }
      if (end === -1) return { line: n, why: `the value of ${name} opens a ${quote} quote that is never closed` }
      const after = trimSpaces(body.slice(end + 1))
      if (after !== '' && !after.startsWith('#')) return { line: last + 1, why: `text after the closing ${quote} quote of ${name} (only a # comment may follow it)` }
      value = body.slice(0, end)
      if (quote === '"') value = value.replaceAll('\\n', '\n')
      i = last
    } else {
      const hash = raw.indexOf('#')
      if (hash !== -1 && raw[hash - 1] !== ' ') return { line: n, why: `the value of ${name} has a # that would end it (a comment starts with " #"): quote the value` }
      value = trimSpaces(hash === -1 ? raw : raw.slice(0, hash))
    }
    if (value.includes('\0')) return { line: n, why: `the value of ${name} has a NUL byte, which no environment can hold` }
    values[name] = value
  }
  return { values }
}

/**
 * Reads and parses an environment file (a regular file of at most ENV_FILE_LIMIT bytes; a FIFO
 * or a folder there is refused, never waited on).
 * @returns the values by name
 * @throws FST_HOT_RESTART_ENV_FILE naming the file, and the line for a syntax error
 */
export function readEnvFile (path: string): Record<string, string> {
  let text: string
  try {
    text = readSmallFile(path, ENV_FILE_LIMIT).text
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    // safe-file's refusal says what the path is ("it is a folder, not a regular file")
    const why = e.code === 'FST_HOT_RESTART_UNSAFE_FILE' ? e.message.slice(e.message.indexOf(`${path}: `) + path.length + 2) : `cannot read it (${e.code})`
    throw Object.assign(new EnvFileError(path, why), { cause: err })
  }
  const parsed = parseEnvText(text)
  if ('why' in parsed) throw new EnvFileError(path, `line ${parsed.line}: ${parsed.why}`)
  return parsed.values
}

/**
 * The environment of the workers that start now: the supervisor's, with the values of the env
 * file (read now) laid over it; the supervisor's own when there is no file.
 * @throws FST_HOT_RESTART_ENV_FILE when the file cannot be read or parsed
 */
export function workerEnv (envFile: string | undefined): NodeJS.ProcessEnv {
  return envFile === undefined ? process.env : { ...process.env, ...readEnvFile(envFile) }
}
