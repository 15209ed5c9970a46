'use strict'
// The counting client of `npm run demo` and `npm run soak`: one GET whose outcome is added to
// `stats` (ok, or failed by class: `status 503`, `ECONNRESET`, `TIMEOUT`, `bad body`...).
// The bench's own client (client.js) records every request's timing too; these two only count.
const http = require('node:http')

/**
 * GETs / on 127.0.0.1:`port`; resolves once the outcome is counted.
 * @param {{ ok: number, failed: number, failures: Record<string, number> }} stats
 * @param {http.Agent | false} agent
 * @param {(body: any) => void} [onBody] given the parsed JSON body of a 200
 */
function countedGet (stats, agent, port, onBody = () => {}) {
  return new Promise(resolve => {
    const fail = (why) => { stats.failed++; stats.failures[why] = (stats.failures[why] || 0) + 1; resolve() }
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent, timeout: 10000 }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', c => { body += c })
      res.on('end', () => {
        if (res.statusCode !== 200) return fail(`status ${res.statusCode}`)
        let parsed
        try { parsed = JSON.parse(body) } catch { return fail('bad body') }
        stats.ok++
        onBody(parsed)
        resolve()
      })
      res.on('error', err => fail(err.code || err.message))
    })
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })))
    req.on('error', err => fail(err.code || err.message))
  })
}

module.exports = { countedGet }
