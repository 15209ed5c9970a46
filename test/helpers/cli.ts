// The CLI in-process through main(), with its output collected.
import { EXIT, main } from '../../lib/cli'
import type { StatusReport } from '../../lib/status'

export async function cli (...argv: string[]): Promise<{ code: number, out: string, err: string }> {
  let out = ''
  let err = ''
  const code = await main(argv, { out: { write: (s: string) => { out += s } }, err: { write: (s: string) => { err += s } } })
  return { code, out, err }
}

export async function statusJson (pidFile: string): Promise<Extract<StatusReport, { running: true }>> {
  const r = await cli('status', '--pid-file', pidFile, '--json')
  if (r.code !== EXIT.ok) throw new Error(`status exited ${r.code}: ${r.out}${r.err}`)
  return JSON.parse(r.out)
}
