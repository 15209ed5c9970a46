// example-app/metrics.js: reload metrics in Prometheus's text format, from the plugin's
// diagnostics_channel events, with counters that survive the process swap.
import { spawn } from 'node:child_process'
import { join, resolve } from 'node:path'
import t from 'tap'
import { killLogged, killOnExit, tempDir } from '../helpers/app'
import { followLogs, on } from '../helpers/log-lines'
import { connect } from '../helpers/raw-http'

t.test('the metrics example counts reloads and moved connections across generations', async t => {
  const dir = tempDir('fhr-metrics-')
  const proc = spawn(process.execPath, [resolve(__dirname, '..', '..', 'example-app', 'metrics.js')], {
    env: { ...process.env, PORT: '0', PID_FILE: join(dir, 'app.pid'), METRICS_FILE: join(dir, 'metrics.json') },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  killOnExit(proc)
  const { lines, waitFor } = followLogs([proc.stdout!])
  killOnExit(() => killLogged(lines))
  const listening = await waitFor(l => String(l.msg).startsWith('Server listening at '), 'the example to listen', 0, 60000)
  const port = Number(/:(\d+)$/.exec(String(listening.msg))![1])
  let pid = (await waitFor(on('ready'), 'ready', 0, 60000)).pid

  // a kept-alive connection, moved at each reload; it also reads the metrics
  const c = await connect(port)
  t.teardown(() => c.close())
  const scrape = async (): Promise<string> => {
    c.write(c.get('/metrics'))
    return (await c.next()).body
  }
  t.match(await scrape(), /^fastify_hot_restart_reloads_total 0$/m, 'no reload yet')

  for (let i = 0; i < 2; i++) {
    const from = lines.length
    process.kill(pid, 'SIGUSR2')
    const successor = (await waitFor(on('upgrade.ready', { pid }), 'the successor', from, 60000)).successorPid as number
    await waitFor(on('predecessor.exited', { pid: successor }), 'the predecessor to exit', from, 60000)
    pid = successor
  }
  const text = await scrape()
  t.match(text, /^# TYPE fastify_hot_restart_reloads_total counter$/m, 'Prometheus text format')
  t.match(text, /^fastify_hot_restart_reloads_total 2$/m, 'two reloads, counted by two processes')
  t.match(text, /^fastify_hot_restart_connections_moved_total 2$/m, 'the connection moved twice (the drains ended after their successors served)')
  t.match(text, /^fastify_hot_restart_last_reload_seconds 0\.\d+|^fastify_hot_restart_last_reload_seconds [1-9]/m, 'the last reload took some time')
  t.match(text, /^fastify_hot_restart_failed_reloads_total 0$/m)
  // closed first, so that the stop does not wait idleGrace for it
  c.close()
  process.kill(pid, 'SIGTERM')
  await waitFor(on('exit', { pid }), 'the last generation to exit', 0, 60000)
})
