/**
 * Command-line parsing for every CLI command: node:util's parseArgs, with its errors rewritten
 * into ours, which name the option and say what it expects.
 */
import { parseArgs } from 'node:util'

/** An option of a command: its parseArgs type, and for a string option what its value is. */
export interface OptionSpec {
  type: 'string' | 'boolean'
  short?: string
  multiple?: boolean
  /** What the value is, for messages: `<path>`, `<ms>`. */
  value?: string
}

/** Bad arguments; the message says which and what was expected. */
export class UsageError extends Error {}

/**
 * Parses `args` for `command`.
 * @returns parseArgs' values and positionals
 * @throws UsageError with a message that names the option and what it expects
 */
export function parseOptions (command: string, args: string[], options: Record<string, OptionSpec>, allowPositionals = false): {
  values: Record<string, string | boolean | string[] | undefined>
  positionals: string[]
} {
  // parseArgs rejects keys that are present and undefined
  const config = Object.fromEntries(Object.entries(options).map(([name, { value: _, ...spec }]) => [name, spec]))
  try {
    const { values, positionals } = parseArgs({ args, options: config, allowPositionals, strict: true })
    return { values: values as Record<string, string | boolean | string[] | undefined>, positionals }
  } catch (err) {
    throw new UsageError(explain(command, err as Error & { code?: string }, options))
  }
}

function explain (command: string, err: Error & { code?: string }, options: Record<string, OptionSpec>): string {
  /* c8 ignore next: every parseArgs error mapped here names its option in quotes */
  const quoted = /'([^']*)'/.exec(err.message)?.[1] ?? ''
  // '-h, --help' names an option by both its names: the long one is ours
  const given = /--[\w-]+/.exec(quoted)?.[0] ?? quoted
  const name = given.replace(/^--?/, '')
  const spec = options[name] ?? Object.values(options).find(o => o.short === name)
  const long = spec === undefined ? given : `--${Object.keys(options).find(k => options[k] === spec)}`
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const known = Object.entries(options).map(([n, o]) => `--${n}${o.value === undefined ? '' : ` ${o.value}`}`).join(', ')
    return `unknown option ${given} for "${command}": it takes ${known} (an argument of yours that starts with "-" goes after "--")`
  }
  if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `unexpected argument "${quoted}": "${command}" takes options only`
  if (err.message.includes('does not take an argument')) return `${long} takes no value`
  // what is left (ERR_PARSE_ARGS_INVALID_OPTION_VALUE): a string option's value is missing at
  // the end, or an option stands where its value should be
  return `${long} expects a value: ${long} ${String(spec?.value)} (a value that starts with "-" goes as ${long}=<value>)`
}
