'use strict'
// The bench's tables (Markdown, readable on a terminal too) and its goals, from the results.

const f = (n, digits = 1) => n === undefined || Number.isNaN(n) ? '-' : Number(n.toFixed(digits)).toLocaleString('en-US')
const row = (cells) => `| ${cells.join(' | ')} |`
const table = (head, rows) => [row(head), row(head.map(() => '---')), ...rows.map(row)].join('\n')
const lat = (l) => l.count === 0 ? '-' : `${f(l.p50, 2)} / ${f(l.p99, 2)} / ${f(l.max, 0)}`

/** The no-reload run that serves as `run`'s steady reference. */
function steadyOf (results, run) {
  const workload = run.steadyFrom ?? run.workload
  return results.runs.find(r => r.subject === run.subject && r.workload === workload && r.reloads === 0)
}

function failuresTable (results) {
  const rows = results.runs.filter(r => r.reloads > 0).map(r => {
    const other = Object.entries(r.details.other ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')
    const non2xx = Object.entries(r.details.non2xx ?? {}).map(([k, v]) => `${k}: ${v}`).join(', ')
    const reused = Object.values(r.details).reduce((n, d) => n + (d['reused keep-alive socket'] ?? 0), 0)
    return [r.subject, r.workload, r.reloads, f(r.requests, 0), f(r.inWindows, 0), `**${f(r.failed, 0)}**`,
      f(r.failures.ECONNRESET, 0), f(r.failures.ECONNREFUSED, 0), f(r.failures.EPIPE, 0), f(r.failures.timeout, 0),
      non2xx || '0', other || '0', f(reused, 0)]
  })
  return table(['subject', 'workload', 'reloads', 'requests', 'in reload windows', 'failed', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'timeout', 'non-2xx', 'other', 'of the failed: sent on a reused keep-alive socket'], rows)
}

function timingTable (results) {
  const rows = results.runs.filter(r => r.reloads > 0).map(r => {
    const steady = steadyOf(results, r)
    const gens = r.generations
    const first = gens[0]
    const last = gens[gens.length - 1]
    const fd = (g) => g?.fds === undefined ? '-' : `${g.fds} (${g.nonSocketFds})`
    const mib = (g) => g?.rssKiB === undefined ? '-' : f(g.rssKiB / 1024, 0)
    const n = r.nstat
    return [r.subject, r.workload,
      steady === undefined ? '-' : lat(steady.latencyAll), lat(r.latencyWindow),
      f(r.latencyAll.slow, 0),
      `${f(r.handoverMs.p50, 0)} / ${f(r.handoverMs.p99, 0)}`, `${f(r.drainMs.p50, 0)} / ${f(r.drainMs.max, 0)}`,
      `${fd(first)} -> ${fd(last)}`, `${mib(first)} -> ${mib(last)}`,
      n === undefined ? 'n/a' : `${n.TcpExtListenOverflows} / ${n.TcpEstabResets} / ${n.TcpOutRsts}`,
      r.clientLagMs === undefined ? '-' : `${f(r.clientLagMs.p99, 0)} / ${f(r.clientLagMs.max, 0)}`,
      r.newConnections === undefined ? '-' : `${f(r.newConnections, 0)} / ${f(r.newConnectionsInWindows, 0)}`]
  })
  return table(['subject', 'workload', 'steady p50 / p99 / max (ms)', 'reload-window p50 / p99 / max (ms)', '> 1 s (with reloads)',
    'handover p50 / p99 (ms)', 'drain p50 / max (ms)', 'fds, all (not sockets): gen 1 -> last', 'RSS MiB (gen 1 -> last)', 'nstat overflows / estab resets / out RSTs', 'load client\'s own event-loop delay p99 / max (ms)', 'new client connections: all / in reload windows'], rows)
}

/**
 * What a reload costs the processes of the subjects that measure it inside (fastify-hot-restart,
 * both drains side by side): the predecessor's CPU from its successor's ready to its exit, and
 * the longest event-loop stall of the predecessor (same span) and of the successor (its listen()
 * to the predecessor's exit). Empty when no run measured them.
 */
/** `boot / handover / after` p99 (request count) of a run's window, or '-' (an older results file). */
function phases (byPhase) {
  if (byPhase === undefined) return '-'
  return ['boot', 'handover', 'after'].map(p => byPhase[p].count === 0 ? '-' : `${f(byPhase[p].p99, 1)} (${byPhase[p].count})`).join(' / ')
}

function reloadCostTable (results) {
  const runs = results.runs.filter(r => r.reloads > 0 && r.predecessorCpuMs !== undefined)
  if (runs.length === 0) return ''
  const pm = (x) => x === undefined ? '-' : `${f(x.p50, 0)} / ${f(x.max, 0)}`
  const rows = runs.map(r => {
    const steady = steadyOf(results, r)
    const ratio = steady === undefined ? '' : ` (${f(r.latencyWindow.p99 / steady.latencyAll.p99, 2)}x)`
    return [r.subject, r.workload, steady === undefined ? '-' : f(steady.latencyAll.p99, 2), `${f(r.latencyWindow.p99, 2)}${ratio}`,
      `${f(r.handoverMs.p50, 0)} / ${f(r.handoverMs.p99, 0)}`,
      phases(r.latencyByPhase), pm(r.predecessorBootStallMs), pm(r.predecessorCpuMs), pm(r.predecessorStallMs), pm(r.successorStallMs)]
  })
  return table(['subject', 'workload', 'steady p99 (ms)', 'reload-window p99 (ms)', 'handover p50 / p99 (ms)',
    'window p99 (requests) while the successor boots / while connections move or drain / after (ms)',
    'predecessor\'s longest stall while the successor boots, p50 / max (ms)', 'predecessor CPU, ready -> exit, p50 / max (ms)', 'predecessor\'s longest stall, p50 / max (ms)', 'successor\'s longest stall, p50 / max (ms)'], rows)
}

/** The goals of issue 3, measured on the subject under test. */
function goals (results, subject = 'fastify-hot-restart') {
  const runs = results.runs.filter(r => r.subject === subject && r.reloads > 0)
  if (runs.length === 0) return []
  const failed = runs.reduce((n, r) => n + r.failed, 0)
  const lost = (results.errors ?? []).filter(e => e.subject === subject)
  const inWindows = runs.reduce((n, r) => n + r.inWindows, 0)
  const out = [{
    goal: '0 failed requests in every workload' + (results.mode === 'full' ? ', >= 300,000 requests inside reload windows' : ''),
    measured: `${failed} failed (${runs.map(r => `${r.workload}: ${r.failed}`).join(', ')}); ${inWindows.toLocaleString('en-US')} requests inside reload windows`,
    met: failed === 0 && lost.length === 0 && (results.mode !== 'full' || inWindows >= 300000)
  }]
  if (lost.length > 0) out[0].measured += `; runs lost to a harness error: ${lost.map(e => `${e.workload} (${e.error})`).join(', ')}`
  const ratios = runs.map(r => {
    const steady = steadyOf(results, r)
    return { workload: r.workload, ratio: r.latencyWindow.p99 / steady?.latencyAll.p99, window: r.latencyWindow.p99, steady: steady?.latencyAll.p99 }
  })
  out.push({
    goal: 'reload-window p99 <= 2x steady p99',
    measured: ratios.map(x => `${x.workload}: ${f(x.window, 2)} vs ${f(x.steady, 2)} ms (${f(x.ratio, 2)}x)`).join('; '),
    met: ratios.every(x => x.ratio <= 2)
  })
  if (results.boot !== undefined) {
    const worst = Math.max(...runs.map(r => r.handoverMs.p50))
    out.push({
      goal: 'handover <= bare boot + 25 ms',
      measured: `handover p50 ${runs.map(r => `${r.workload}: ${f(r.handoverMs.p50, 0)} ms`).join(', ')}; bare boot p50 ${f(results.boot.p50, 0)} ms idle (limit ${f(results.boot.p50 + 25, 0)} ms)` +
        `, ${f(results.bootUnderLoad.p50, 0)} ms under the W1 load; the app with the plugin boots in ${f(results.bootWithPlugin.p50, 0)} ms idle, ${f(results.bootWithPluginUnderLoad.p50, 0)} ms under load`,
      met: worst <= results.boot.p50 + 25
    })
    // the same goal with both sides measured in the same conditions (no load; the W1 load)
    const w1 = runs.find(r => r.workload === 'W1')
    if (results.handoverIdle !== undefined && w1 !== undefined) {
      const idle = results.handoverIdle.p50
      const loaded = w1.handoverMs.p50
      out.push({
        goal: 'the same, both sides in the same conditions: handover with no load <= bare boot with no load + 25 ms; W1 handover <= bare boot under the W1 load + 25 ms',
        measured: `no load: handover p50 ${f(idle, 0)} ms vs bare boot ${f(results.boot.p50, 0)} ms (limit ${f(results.boot.p50 + 25, 0)} ms); ` +
          `W1: handover p50 ${f(loaded, 0)} ms vs bare boot under the W1 load ${f(results.bootUnderLoad.p50, 0)} ms (limit ${f(results.bootUnderLoad.p50 + 25, 0)} ms)`,
        met: idle <= results.boot.p50 + 25 && loaded <= results.bootUnderLoad.p50 + 25
      })
    }
  }
  if (results.throughput !== undefined) {
    out.push({
      goal: 'steady throughput with the plugin >= 99% of bare Fastify',
      measured: `${f(results.throughput.ratio * 100, 1)}% (median of the pairs ${f(results.throughput.medianPairRatio * 100, 1)}%; plugin ${results.throughput.hotRps.join(', ')} req/s; bare ${results.throughput.bareRps.join(', ')} req/s)`,
      met: results.throughput.ratio >= 0.99
    })
  }
  return out
}

function goalsTable (results) {
  return table(['goal', 'measured', 'met'], goals(results).map(g => [g.goal, g.measured, g.met ? 'yes' : '**no**']))
}

module.exports = { failuresTable, timingTable, reloadCostTable, goalsTable, goals }
