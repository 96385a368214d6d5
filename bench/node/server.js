// The Node.js peer of Rally's benchmark fixture (crates/rally/examples/bench.rs): the
// same contract on the npm `socket.io` 4.8 server, default settings, default namespace.
// Usage: node bench/node/server.js --port N   (prints `listening on 127.0.0.1:PORT`)
'use strict';

const path = require('node:path');
const http = require('node:http');
const { Server } = require(path.join(__dirname, '..', '..', 'tests', 'js', 'node_modules', 'socket.io'));

const portArg = process.argv.indexOf('--port');
const port = portArg >= 0 ? Number(process.argv[portArg + 1]) : 3000;

const httpServer = http.createServer();
const io = new Server(httpServer, { serveClient: false });

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
