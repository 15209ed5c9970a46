'use strict'
// A CommonJS consumer of the packed package; test/e2e/package.test.ts runs it in a scratch project.
const Fastify = require('fastify')
const plugin = require('fastify-hot-restart')
const node = require('fastify-hot-restart/node')
const exercise = require('./exercise.cjs')

exercise({ Fastify, plugin, node }).then(keys => {
  process.stdout.write(JSON.stringify(keys) + '\n')
})
