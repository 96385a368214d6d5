// A Node.js cluster member: socket.io 4.8 with @socket.io/redis-adapter 8.3 (classic) or
// @socket.io/redis-streams-adapter 0.3 (`--adapter streams`, the prefix naming the stream
// too), with the event contract of crates/redis/examples/cluster_node.rs, so a test can put
// it in the same cluster as Rally nodes and drive both the same way.
//
//   node node-node.js --port 0 --redis-url redis://127.0.0.1:PORT [--prefix P] [--request-timeout MS] [--name N]
//     [--specific-response-channel] [--adapter classic|streams] [--recovery] [--parser json|msgpack]
//
// Prints `listening on 127.0.0.1:PORT` once it listens and its Redis clients are connected.
'use strict';

const http = require('node:http');
const { Server } = require('socket.io');
const classic = require('@socket.io/redis-adapter');
const streams = require('@socket.io/redis-streams-adapter');
const { createClient } = require('redis');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const port = Number(option('port', '3000'));
const redisUrl = option('redis-url', process.env.REDIS_URL || 'redis://127.0.0.1:6379');
const prefix = option('prefix', 'socket.io');
const requestsTimeout = Number(option('request-timeout', '5000'));
const adapterKind = option('adapter', 'classic');

const strings = (v) => (typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);
const sortKey = (v) => JSON.stringify(v === undefined ? null : v);
const byKey = (a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0);

async function main() {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  pub.on('error', () => {});
  sub.on('error', () => {});
  await Promise.all([pub.connect(), sub.connect()]);

  const httpServer = http.createServer();
  const adapter = adapterKind === 'streams'
    ? streams.createAdapter(pub, { streamName: prefix, channelPrefix: prefix })
    : classic.createAdapter(pub, sub, {
      key: prefix,
      requestsTimeout,
      publishOnSpecificResponseChannel: process.argv.includes('--specific-response-channel'),
    });
  const io = new Server(httpServer, {
    adapter,
    ...(option('parser', 'json') === 'msgpack' ? { parser: require('socket.io-msgpack-parser') } : {}),
    ...(process.argv.includes('--recovery') ? { connectionStateRecovery: { maxDisconnectionDuration: 120000 } } : {}),
  });
  await new Promise((resolve) => httpServer.listen(port, '127.0.0.1', resolve));
  const actual = httpServer.address().port;
  const name = option('name', `node-${actual}`);

  const serverLog = [];
  io.on('hello', (...args) => { serverLog.push({ event: 'hello', args }); });
  io.on('ask', (...args) => {
    const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
    serverLog.push({ event: 'ask', args });
    if (ack) ack({ node: name, args });
  });

  const operator = (socket, spec) => {
    const rooms = strings(spec.rooms);
    let op;
    if (spec.from === 'socket') op = socket.to(rooms);
    else if (spec.from === 'broadcast') op = socket.broadcast.to(rooms);
    else op = io.to(rooms);
    op = op.except(strings(spec.except));
    if (spec.volatile) op = op.volatile;
    if (spec.local) op = op.local;
    return op;
  };
  const okOrErr = (err, answers) => {
    if (err) return { err: err.message.includes('timed out') || err.message.includes('timeout') ? 'timeout' : err.message, count: (answers || []).length };
    return { ok: [...answers].sort(byKey) };
  };

  io.on('connection', (socket) => {
    socket.on('name', (ack) => ack(name));
    socket.on('echo', (...args) => { const ack = args.pop(); ack(...args); });
    socket.on('join', (rooms, ack) => { socket.join(strings(rooms)); ack([...socket.rooms].sort()); });
    socket.on('leave', (rooms, ack) => { for (const r of strings(rooms)) socket.leave(r); ack([...socket.rooms].sort()); });
    socket.on('set-data', (value, ack) => { socket.data = value; ack(); });
    socket.on('emit', (spec, ack) => {
      operator(socket, spec).emit(spec.event || 'message', ...(spec.args || []));
      ack();
    });
    socket.on('broadcast-with-ack', (spec, ack) => {
      operator(socket, spec).timeout(spec.timeout || 1000).emit(spec.event || 'message', ...(spec.args || []),
        (err, answers) => ack(okOrErr(err, answers)));
    });
    socket.on('fetch-sockets', async (rooms, ack) => {
      try {
        const sockets = await io.in(strings(rooms)).fetchSockets();
        ack(sockets.map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: s.data, auth: s.handshake.auth }))
          .sort((a, b) => (a.id < b.id ? -1 : 1)));
      } catch (err) {
        ack({ err: err.message });
      }
    });
    socket.on('sockets-join', (spec, ack) => { io.in(strings(spec.rooms)).except(strings(spec.except)).socketsJoin(strings(spec.join)); ack(); });
    socket.on('sockets-leave', (spec, ack) => { io.in(strings(spec.rooms)).except(strings(spec.except)).socketsLeave(strings(spec.leave)); ack(); });
    socket.on('disconnect-sockets', (spec, ack) => { ack(); io.in(strings(spec.rooms)).disconnectSockets(!!spec.close); });
    socket.on('all-rooms', async (ack) => {
      // The streams adapter has no cluster-wide room list.
      if (typeof io.of('/').adapter.allRooms !== 'function') return ack({ err: 'not supported' });
      try {
        ack([...(await io.of('/').adapter.allRooms())].sort());
      } catch (err) {
        ack({ err: err.message });
      }
    });
    socket.on('server-count', async (ack) => ack(await io.of('/').adapter.serverCount()));
    socket.on('server-side-emit', (spec, ack) => { io.serverSideEmit(spec.event || 'hello', ...(spec.args || [])); ack(); });
    socket.on('server-side-emit-with-ack', (spec, ack) => {
      io.serverSideEmit(spec.event || 'ask', ...(spec.args || []), (err, answers) => ack(okOrErr(err, answers)));
    });
    socket.on('server-events', (ack) => ack(serverLog));
  });

  console.log(`listening on 127.0.0.1:${actual}`);
  const stop = () => { io.close(); Promise.allSettled([pub.quit(), sub.quit()]).finally(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => { console.error(err); process.exit(1); });
