'use strict'
// The workloads (issue 3), and what quick and full mode run.

/** `load` is what the client sends (client.js); `backToBack`: reload as soon as the last one ended, for `durationMs`. */
const WORKLOADS = {
  W1: { title: '100 keep-alive clients, closed loop, small GETs', load: { clients: 100 } },
  W2: { title: 'a new connection per request, open loop at 400 req/s', load: { rate: 400 } },
  W3: { title: '200 keep-alive clients pausing 0-2 s between requests', load: { clients: 200, thinkMs: 2000 } },
  W4: { title: '50 clients of slow requests (1-3 s) + 5 event streams', load: { clients: 50, slowMs: [1000, 3000], streams: 5 } },
  W5: { title: 'back-to-back reloads for 60 s under the W1 load', load: { clients: 100 }, backToBack: true, durationMs: 60000, steadyFrom: 'W1' }
}

/**
 * @property workloads which to run
 * @property reloads per workload (W5: as many as fit in its duration)
 * @property steadyMs the run without reloads
 * @property gapMs between two reloads (not W5)
 * @property warmupMs load before the measured part of each run
 * @property limitMs the whole bench
 */
const MODES = {
  quick: { workloads: ['W1', 'W3'], reloads: 10, steadyMs: 2500, gapMs: 500, warmupMs: 500, throughputPairs: 3, throughputMs: 2000, boots: 5, limitMs: 20 * 60000 },
  full: { workloads: ['W1', 'W2', 'W3', 'W4', 'W5'], reloads: 100, steadyMs: 10000, gapMs: 1000, warmupMs: 1000, throughputPairs: 5, throughputMs: 5000, boots: 10, limitMs: 150 * 60000 }
}

module.exports = { WORKLOADS, MODES }
