// The Node.js peer of Rally's benchmark fixture (bench/src/bin/bench_server.rs): the
// same contract on the npm `socket.io` 4.8 server, default settings, default namespace.
// Usage: node bench/node/server.js --port N   (prints `listening on 127.0.0.1:PORT`)
//   [--redis-url URL [--adapter classic|streams] [--prefix P]]: one server of a cluster
//   sharing that Redis, through @socket.io/redis-adapter 8.3 (classic, the default) or
//   @socket.io/redis-streams-adapter 0.3 (streams); P is the channel prefix and the
//   stream's name. It then prints `listening on` only once the adapter's Redis clients
//   are connected. [--parser msgpack]: socket.io-msgpack-parser's packets.
'use strict';

const path = require('node:path');
const http = require('node:http');

const modules = path.join(__dirname, '..', '..', 'tests', 'js', 'node_modules');
const { Server } = require(path.join(modules, 'socket.io'));

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const port = Number(option('port', '3000'));
const redisUrl = option('redis-url', null);
const adapterKind = option('adapter', 'classic');
const prefix = option('prefix', 'socket.io');

// Waits until Redis lists `count` clients named `name`: the streams adapter opens its own
// (duplicates of the one it is given, so named alike) in the background, and a server
// announced before its reader is up would miss the first broadcasts.
async function clientsConnected(client, name, count) {
  for (;;) {
    const list = await client.sendCommand(['CLIENT', 'LIST']);
    if (list.split('\n').filter((line) => line.includes(` name=${name} `)).length >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function redisAdapter() {
  const { createClient } = require(path.join(modules, 'redis'));
  const name = `bench-${process.pid}`;
  const pub = createClient({ url: redisUrl, name });
  pub.on('error', () => {});
  if (adapterKind === 'streams') {
    const streams = require(path.join(modules, '@socket.io', 'redis-streams-adapter'));
    await pub.connect();
    const adapter = streams.createAdapter(pub, { streamName: prefix, channelPrefix: prefix });
    // Its publisher (ours), its stream reader and its subscriber.
    await clientsConnected(pub, name, 3);
    return adapter;
  }
  if (adapterKind !== 'classic') throw new Error(`--adapter must be classic or streams, not ${adapterKind}`);
  const classic = require(path.join(modules, '@socket.io', 'redis-adapter'));
  const sub = pub.duplicate();
  sub.on('error', () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  return classic.createAdapter(pub, sub, { key: prefix });
}

// node-redis retries a refused connection forever: give up after 5 s, as the Rally
// fixture does, rather than leave the load generator waiting for `listening on`.
function within5s(promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis at ${redisUrl} not ready within 5 s`)), 5000);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function main() {
  const httpServer = http.createServer();
  const adapter = redisUrl ? await within5s(redisAdapter()) : undefined;
  const parser = option('parser', 'json') === 'msgpack'
    ? { parser: require(path.join(modules, 'socket.io-msgpack-parser')) }
    : {};
  const io = new Server(httpServer, { serveClient: false, ...(adapter ? { adapter } : {}), ...parser });

  io.on('connection', (socket) => {
    socket.on('message', (payload, room) => {
      if (typeof room === 'string') io.to(room).emit('message', payload, room);
      else io.emit('message', payload);
    });
    socket.on('join', (room, ack) => {
      socket.join(room);
      if (typeof ack === 'function') ack();
    });
    socket.on('private_message', (payload, targetId) => {
      socket.to(targetId).emit('private_message', payload, socket.id);
    });
    socket.on('echo', (payload, ack) => {
      if (typeof ack === 'function') ack(payload);
    });
  });

  httpServer.listen(port, '127.0.0.1', () => {
    console.log(`listening on 127.0.0.1:${httpServer.address().port}`);
  });
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => io.close(() => process.exit(0)));
  }
}

main().catch((err) => {
  console.error(`bench/node/server.js: ${err.message}`);
  process.exit(2);
});
