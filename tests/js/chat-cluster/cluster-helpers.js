// Helpers for the rally-chat cluster tests: two rally-chat servers on one throwaway Redis
// (tests/js/lib/redis.js), each test with a channel and key prefix of its own.
'use strict';

const assert = require('node:assert/strict');
const { start } = require('../lib/server');
const { uniquePrefix, assertNoPanic } = require('../lib/redis');
const sio = require('../lib/sio');

/** GET /health as JSON (bounded). */
async function health(node) {
  const res = await fetch(`${node.url}/health`, { signal: AbortSignal.timeout(2000) });
  return res.json();
}

/** Resolves once both of the node's Redis connections are up. */
async function waitRedisUp(node, timeout = 10000) {
  await sio.eventually(async () => {
    const h = await health(node);
    assert.ok(h.redis && h.redis.publisher_connected && h.redis.subscriber_connected, JSON.stringify(h));
  }, timeout, 50);
}

/** One rally-chat cluster member on `redis` with `prefix` and the `adapter` protocol
 * (`streams` or `classic`); history in Redis. */
function startNode(redis, prefix, args = [], adapter = 'streams') {
  return start('rally-chat', [
    '--db', ':memory:',
    '--redis-url', redis.url,
    '--redis-prefix', prefix,
    '--redis-adapter', adapter,
    '--redis-request-timeout-ms', '1500',
    ...args,
  ]);
}

/**
 * Two members, A and B, sharing `redis` with a fresh prefix; resolves once both are
 * connected to Redis. `stop()` stops both and fails if either panicked.
 */
async function startCluster(redis, { tag = 'chat', args = [], adapter = 'streams' } = {}) {
  const prefix = uniquePrefix(tag);
  const nodes = await Promise.all([startNode(redis, prefix, args, adapter), startNode(redis, prefix, args, adapter)]);
  const cluster = {
    prefix,
    A: nodes[0],
    B: nodes[1],
    nodes,
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      assertNoPanic(nodes);
    },
  };
  try {
    await Promise.all(nodes.map((n) => waitRedisUp(n)));
  } catch (err) {
    await cluster.stop().catch(() => {});
    throw err;
  }
  return cluster;
}

module.exports = { health, waitRedisUp, startNode, startCluster };
