// The `import = require()` form, for CommonJS setups (node10, node16): the module is the function.
import Fastify from 'fastify'
import hotRestart = require('fastify-hot-restart')
import nodeHotRestart = require('fastify-hot-restart/node')

export async function registered (): Promise<void> {
  const app = Fastify()
  await app.register(hotRestart, { closeWithGrace: false })
  await app.register(hotRestart.default, { closeWithGrace: false })
  const options: hotRestart.HotRestartOptions = { drainTimeout: 1 }
  const err: Error = new hotRestart.InvalidOptionError('x')
  const node: typeof nodeHotRestart.hotRestart = nodeHotRestart
  void options; void err; void node
}
