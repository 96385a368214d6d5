// The reference for the stream scenario: Node's socket.io 4.8 with its own connection
// state recovery (in memory), speaking the part of the testbed's contract the scenario
// uses (`emit` {event, args, from: 'io'} → io.emit, then ack()). If this peer passes and
// Rally does not, the harness is not the one to blame.
//
//   node recovery/node-peer.js --port 0 [--ping-interval MS] [--ping-timeout MS] [--recovery]
//
// Prints `listening on 127.0.0.1:PORT` once it listens.
'use strict';

const http = require('node:http');
const { Server } = require('socket.io');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const httpServer = http.createServer();
const io = new Server(httpServer, {
  pingInterval: Number(option('ping-interval', '25000')),
  pingTimeout: Number(option('ping-timeout', '20000')),
  ...(process.argv.includes('--recovery') ? { connectionStateRecovery: {} } : {}),
});
io.on('connection', (socket) => {
  socket.on('emit', (spec, ack) => {
    const args = Array.isArray(spec && spec.args) ? spec.args : [];
    if (spec && spec.from === 'io') io.emit(spec.event || 'message', ...args);
    else socket.emit(spec.event || 'message', ...args);
    if (typeof ack === 'function') ack();
  });
});
httpServer.listen(Number(option('port', '3000')), '127.0.0.1', () => {
  console.log(`listening on 127.0.0.1:${httpServer.address().port}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => io.close(() => process.exit(0)));
}
