// A loopback TCP proxy that a test puts between its clients and a server, so it can cut
// and restore their connections without root, iptables or a second machine: what
// connection state recovery (issue 14) must survive are exactly those cuts.
//
// Two ways to cut, because a client learns of them differently:
// - 'reset': both sides get an RST at once (a crashed peer, a load balancer dropping the
//   flow); new connections are reset as soon as they are accepted.
// - 'blackhole': bytes stop in both directions and nothing is closed (a cable pulled, a
//   Wi-Fi dead zone): only the heartbeats can tell. 'freeze' does it to the connections
//   open now and lets new ones through. The bytes are dropped, not held back,
//   because a network that comes back does not replay what it lost. On restore the
//   connections that lived through it are reset, as a NAT that forgot them would do;
//   without that, a client whose handshake started in the blackhole would wait for its
//   own connect timeout.
'use strict';

const net = require('node:net');

/** Bound for the listener to open and to close. */
const WAIT_MS = 5000;

/**
 * Starts a proxy on 127.0.0.1 (a free port) forwarding to `targetHost:targetPort`, or to
 * each of `targetPorts` in turn, the next one after each restore().
 * Resolves { port, url, cut(mode), restore(), dropTarget(port), close(), stats() }.
 */
function startProxy({ targetPort, targetPorts, targetHost = '127.0.0.1' } = {}) {
  const targets = [...(targetPorts || [targetPort])];
  if (!targets.length || !targets.every(Boolean)) throw new Error('startProxy needs a targetPort');
  let target = 0;
  let mode = 'open'; // 'open' | 'reset' | 'blackhole'
  const pairs = new Set();
  const counts = {
    accepted: 0,
    refused: 0, // accepted while cut by 'reset', reset at once
    resets: 0, // connections reset by cut('reset') or by restore() after a blackhole
    bytesForwarded: 0,
    bytesDropped: 0,
    cuts: 0,
    retargets: 0, // restore()s that moved new connections to the next target
  };

  // A reset on a socket that is already gone is fine: the point is that it is gone.
  // One whose FIN we already sent (`end()`, the pipe passing a half-close on) is only
  // destroyed: on Node 20.20 `resetAndDestroy()` right after `end()` (same tick or the
  // next, while the shutdown is pending) refuses to close the handle, and the process
  // then spins forever at exit (Environment::CleanupHandles waits for it). Its peer has
  // the FIN already, so the RST would tell it little more.
  function reset(socket) {
    if (!socket || socket.destroyed) return;
    if (socket.writableEnded) {
      socket.destroy();
      return;
    }
    try { socket.resetAndDestroy(); } catch { socket.destroy(); }
  }

  function resetPair(pair) {
    if (pair.done) return;
    pair.done = true;
    pairs.delete(pair);
    counts.resets += 1;
    reset(pair.client);
    reset(pair.upstream);
  }

  // Ends the pair without an RST: one side closed normally, so the other side is told
  // the same way (after what it still has to send).
  function endPair(pair) {
    if (pair.done) return;
    pair.done = true;
    pairs.delete(pair);
    for (const s of [pair.client, pair.upstream]) {
      if (s && !s.destroyed) s.end();
      // a peer that never acknowledges the FIN must not keep the socket forever
      if (s) setTimeout(() => s.destroy(), WAIT_MS).unref();
    }
  }

  /** Forwards `from`'s bytes to `to` unless the pair is blackholed. */
  function pipe(pair, from, to) {
    from.on('data', (chunk) => {
      if (pair.blackholed || pair.done || !to) {
        counts.bytesDropped += chunk.length;
        return;
      }
      counts.bytesForwarded += chunk.length;
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    from.on('end', () => {
      // a FIN is a packet too: a blackhole swallows it
      if (!pair.blackholed && !pair.done && to) to.end();
    });
    from.on('error', (err) => {
      if (pair.blackholed || pair.done) return;
      // an RST (or any failure) on one side is passed on as an RST to the other
      if (err && err.code) resetPair(pair);
    });
    from.on('close', (hadError) => {
      if (pair.blackholed || pair.done) return;
      if (hadError) resetPair(pair);
      else endPair(pair);
    });
  }

  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    counts.accepted += 1;
    client.on('error', () => { /* handled through 'close' */ });
    if (mode === 'reset') {
      counts.refused += 1;
      reset(client);
      return;
    }
    const pair = { client, upstream: null, blackholed: mode === 'blackhole', done: false };
    pairs.add(pair);
    if (pair.blackholed) {
      // Accepted and swallowed: the server never hears of it.
      pipe(pair, client, null);
      return;
    }
    const upstream = net.connect({ host: targetHost, port: targets[target], allowHalfOpen: true, noDelay: true });
    pair.upstream = upstream;
    upstream.on('error', () => { /* handled through 'close' */ });
    pipe(pair, client, upstream);
    pipe(pair, upstream, client);
  });
  server.on('error', () => { /* listen errors reject below */ });

  const sockets = () => [...pairs].flatMap((p) => [p.client, p.upstream]).filter(Boolean);

  const api = {
    port: 0,
    url: '',
    /**
     * Cuts every connection through the proxy, now and until restore(): 'reset' or
     * 'blackhole'; or 'freeze', a blackhole for the connections open now only, while new
     * ones flow (a client that gave up on a dead path and found a new one, before the
     * server noticed the old one is dead).
     */
    cut(how) {
      if (!['reset', 'blackhole', 'freeze'].includes(how)) throw new Error(`unknown cut mode ${how}`);
      counts.cuts += 1;
      mode = how === 'freeze' ? 'open' : how;
      for (const pair of [...pairs]) {
        if (how === 'reset') resetPair(pair);
        else {
          pair.blackholed = true;
          // a side paused for back-pressure would keep its bytes in the kernel: read and drop them
          for (const s of [pair.client, pair.upstream]) if (s) s.resume();
        }
      }
    },
    /**
     * Lets new connections through again, to the next target when there are several;
     * those that lived through a blackhole are reset.
     */
    restore() {
      for (const pair of [...pairs]) {
        if (pair.blackholed) resetPair(pair);
      }
      if (targets.length > 1) {
        target = (target + 1) % targets.length;
        counts.retargets += 1;
      }
      mode = 'open';
    },
    /**
     * Stops sending new connections to `port` (a server that died): from now on they all
     * go to the targets left.
     */
    dropTarget(port) {
      const i = targets.indexOf(port);
      if (i < 0 || targets.length === 1) return;
      const current = targets[target];
      targets.splice(i, 1);
      target = Math.max(0, targets.indexOf(current));
    },
    /** Closes the listener and every connection; bounded. */
    close() {
      for (const s of sockets()) s.destroy();
      pairs.clear();
      return new Promise((resolve) => {
        const timer = setTimeout(resolve, WAIT_MS);
        server.close(() => { clearTimeout(timer); resolve(); });
      });
    },
    /** Counters, the current mode and the number of live connections. */
    stats() {
      return { ...counts, mode, open: pairs.size };
    },
  };

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy did not listen within ${WAIT_MS} ms`)), WAIT_MS);
    server.once('error', (err) => { clearTimeout(timer); reject(err); });
    server.listen(0, '127.0.0.1', () => {
      clearTimeout(timer);
      api.port = server.address().port;
      api.url = `http://127.0.0.1:${api.port}`;
      resolve(api);
    });
  });
}

module.exports = { startProxy };
