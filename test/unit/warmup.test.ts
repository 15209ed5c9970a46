// The plugin's `warmup` in-process: app.inject() works inside it (before the app is ready) and
// is Fastify's own again after; a warm-up that throws fails ready() with a coded error. With
// real processes and reloads: test/e2e/warm-successor.test.ts.
import Fastify from 'fastify'
import t from 'tap'
import hotRestart from '../../lib/index'

t.test('inject() inside the warm-up goes through the routes and hooks; after it, inject() is Fastify\'s own', async t => {
  const app = Fastify()
  const seen: string[] = []
  const inject = app.inject
  let answers: unknown[] = []
  await app.register(hotRestart, {
    warmup: async (instance) => {
      answers = [(await instance.inject('/hello')).json(), (await instance.inject({ method: 'GET', url: '/hello?x=1' })).statusCode]
    }
  })
  app.addHook('onRequest', async (request) => { seen.push(request.url) })
  app.get('/hello', async () => ({ hello: 'world' }))
  await app.ready()
  t.same(answers, [{ hello: 'world' }, 200])
  t.same(seen, ['/hello', '/hello?x=1'], 'through the onRequest hook')
  t.equal(app.inject, inject, 'inject() is restored')
  await app.close()
})

t.test('a warm-up that throws, or rejects with something other than an Error: FST_HOT_RESTART_WARMUP_FAILED, the original as its cause', async t => {
  for (const thrown of [new Error('cold'), 'cold']) {
    const app = Fastify()
    await app.register(hotRestart, { warmup: () => { throw thrown } })
    const err = await app.ready().then(() => undefined, (e: unknown) => e) as { code: string, message: string, cause: unknown }
    t.equal(err.code, 'FST_HOT_RESTART_WARMUP_FAILED')
    t.equal(err.message, 'fastify-hot-restart: the warm-up (option `warmup`) failed, so the app does not listen: cold')
    t.equal(err.cause, thrown)
    await app.close()
  }
})

t.test('a warmup that is not a function: a coded error at register time', async t => {
  const app = Fastify()
  const err = await app.register(hotRestart, { warmup: '/' as never }).then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'FST_HOT_RESTART_INVALID_OPTION', message: /Expected `warmup` to be a function/ })
  await app.close().catch(() => {})
})
