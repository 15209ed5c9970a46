'use strict'
// What became of one request, in the classes the bench reports.

/** The failure classes, in the order the tables show them. */
const CLASSES = ['non2xx', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'timeout', 'other']

/**
 * Classifies a request's outcome: a response status, or the error the client saw.
 * @param {{ status?: number, error?: { code?: string, message?: string } }} outcome
 * @returns {{ kind: 'ok' | typeof CLASSES[number], detail?: string }} `detail` is the status
 *   code of a non-2xx answer and the error code (or message) of an `other`
 */
function classify ({ status, error }) {
  if (error !== undefined) {
    const code = error.code ?? ''
    if (code === 'ECONNRESET' || code === 'ECONNREFUSED' || code === 'EPIPE') return { kind: code }
    if (code === 'TIMEOUT' || code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT') return { kind: 'timeout' }
    return { kind: 'other', detail: code || error.message || 'unknown error' }
  }
  if (status >= 200 && status < 300) return { kind: 'ok' }
  return { kind: 'non2xx', detail: String(status) }
}

module.exports = { CLASSES, classify }
