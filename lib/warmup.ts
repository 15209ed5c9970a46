/**
 * The Fastify plugin's `warmup` option: the app's own warm-up, run once every plugin has loaded
 * and before the app listens (Fastify's `onReady`), so that a successor's first clients do not
 * pay for its cold code.
 *
 * `app.inject()` waits until the app is ready, and the app is ready only once its onReady hooks,
 * this one among them, have run: during the warm-up it would wait for itself. So for the time of
 * the warm-up, `app.inject()` hands its requests straight to the server's request handler, as it
 * does once the app is ready (light-my-request, Fastify's own, loaded from where Fastify is):
 * each goes through the whole Fastify path (routing, hooks, validation, serialization).
 */
import { createRequire } from 'node:module'
import type { FastifyInstance } from 'fastify'
import { WarmupFailedError } from './errors'

type Inject = (dispatch: unknown, options?: unknown, callback?: unknown) => unknown

/**
 * Adds the onReady hook that runs `warmup(app)`.
 * @throws (from the hook, so `app.listen()` rejects) FST_HOT_RESTART_WARMUP_FAILED when the
 * warm-up throws or rejects; the original error is its `cause`
 */
export function addWarmup (fastify: FastifyInstance, warmup: (app: FastifyInstance) => unknown): void {
  fastify.addHook('onReady', async function () {
    const inject = createRequire(require.resolve('fastify'))('light-my-request') as Inject
    const dispatch = fastify.server.listeners('request')[0]
    const ready = fastify.inject
    fastify.inject = ((options?: unknown, callback?: unknown) => inject(dispatch, options, callback)) as typeof fastify.inject
    try {
      await warmup(fastify)
    } catch (err) {
      const failed = new WarmupFailedError(err instanceof Error ? err.message : String(err))
      failed.cause = err
      throw failed
    } finally {
      fastify.inject = ready
    }
  })
}
