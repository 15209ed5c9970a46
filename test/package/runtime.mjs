// A native ESM consumer of the packed package; test/e2e/package.test.ts runs it in a scratch project.
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import plugin, * as pluginNamespace from 'fastify-hot-restart'
import { hotRestart, InvalidOptionError } from 'fastify-hot-restart'
import node, * as nodeNamespace from 'fastify-hot-restart/node'
import { hotRestart as nodeHotRestart, jsonLogger } from 'fastify-hot-restart/node'
import exercise from './exercise.cjs'

assert.equal(hotRestart, plugin)
assert.equal(InvalidOptionError, plugin.InvalidOptionError)
assert.equal(nodeHotRestart, node)
assert.equal(typeof jsonLogger.info, 'function')
const keys = await exercise({ Fastify, plugin, node })
// every property of each CommonJS module is an ESM named export too, with the same value
for (const [namespace, names, entry] of [[pluginNamespace, keys.plugin, plugin], [nodeNamespace, keys.node, node]]) {
  for (const name of names) assert.equal(namespace[name], entry[name], `named export ${name}`)
}
process.stdout.write(JSON.stringify(keys) + '\n')
