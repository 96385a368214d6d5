// Cross-node broadcast throughput and latency of two Rally nodes on one Redis (loopback
// only, bounded in count and time). Not a test: run it by hand.
//
//   cargo build --release -p rally-redis --example cluster_node
//   node tests/js/redis/bench.js [--clients 50] [--count 2000] [--rate 0] [--size 0] [--raw] [--debug]
//
// A client on node A asks A to broadcast `count` messages (io.emit, each carrying its send
// time); `clients` clients on node B receive them through Redis. Reports deliveries per
// second at B and the send → receive latency (p50/p99/max). `--rate N` paces the
// broadcasts at N a second (latency without queueing); 0 sends as fast as possible
// (throughput). Without --debug it runs target/release/examples/cluster_node.
'use strict';

const path = require('node:path');
const sio = require('../lib/sio');
const { startRedis, spawnServer, uniquePrefix } = require('../lib/redis');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? Number(process.argv[i + 1]) : fallback;
}

const CLIENTS = option('clients', 50);
const COUNT = option('count', 2000);
const RATE = option('rate', 0);
const SIZE = option('size', 0);
const PROFILE = process.argv.includes('--debug') ? 'debug' : 'release';
// --raw: receivers are bare Engine.IO websockets that read the frames themselves (much less
// client CPU than socket.io-client, so the servers are measured rather than the clients).
const RAW = process.argv.includes('--raw');

/** A bare websocket receiver of `event` on namespace `/`: calls onEvent(args) per EVENT frame. */
async function rawReceiver(url, event, onEvent) {
  const WebSocket = require('ws');
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
  const prefix = `42["${event}",`;
  await new Promise((resolve, reject) => {
    ws.on('error', reject);
    ws.on('message', (data) => {
      const msg = data.toString();
      if (msg[0] === '0') ws.send('40');
      else if (msg.startsWith('40')) resolve();
      else if (msg === '2') ws.send('3');
      else if (msg.startsWith(prefix)) onEvent(JSON.parse(msg.slice(2)).slice(1));
    });
  });
  return { close: () => ws.terminate() };
}

/** CPU seconds (user + system) a process used so far, from /proc (Linux). */
function cpuSeconds(pid) {
  try {
    const fields = require('node:fs').readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks, USER_HZ = 100
  } catch {
    return NaN;
  }
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main() {
  const bin = path.join(__dirname, '..', '..', '..', 'target', PROFILE, 'examples', 'cluster_node');
  const redis = await startRedis();
  const prefix = uniquePrefix('bench');
  const node = (name) => spawnServer(bin, ['--port', '0', '--redis-url', redis.url, '--prefix', prefix, '--name', name], { label: name });
  const [A, B] = await Promise.all([node('A'), node('B')]);
  try {
    const sender = await sio.connect(A.url, { transports: ['websocket'] });
    const latencies = [];
    let first = 0;
    let last = 0;
    const onBlast = (m) => {
      const now = performance.timeOrigin + performance.now();
      if (!first) first = now;
      last = now;
      latencies.push(now - m.t);
    };
    const receivers = [];
    const raws = [];
    for (let i = 0; i < CLIENTS; i += 25) {
      const n = Math.min(25, CLIENTS - i);
      if (RAW) {
        raws.push(...await Promise.all(Array.from({ length: n }, () => rawReceiver(B.url, 'blast', ([m]) => onBlast(m)))));
      } else {
        receivers.push(...await sio.connectMany(n, B.url, { transports: ['websocket'] }));
      }
    }
    const statsClient = await sio.connect(B.url, { transports: ['websocket'] });
    await sio.eventually(async () => {
      if ((await sio.ack(sender, 'server-count')) !== 2) throw new Error('cluster not ready');
    });
    for (const r of receivers) r.on('blast', onBlast);
    const expected = COUNT * CLIENTS;
    const pids = { A: A.pid, B: B.pid, redis: redis.proc.pid };
    const cpuBefore = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
    const selfBefore = process.cpuUsage();
    const started = Date.now();
    const sent = await sio.ackArgsWithin(120000, sender, 'blast', { event: 'blast', count: COUNT, size: SIZE, rate: RATE });
    await sio.waitFor(() => latencies.length >= expected, 120000, `${expected} deliveries`).catch(() => {});
    await sio.sleep(200);
    const cpu = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, Math.round((cpuSeconds(pid) - cpuBefore[k]) * 100) / 100]));
    const self = process.cpuUsage(selfBefore);
    cpu.clients = Math.round((self.user + self.system) / 1e4) / 100;
    const sorted = latencies.slice().sort((a, b) => a - b);
    const seconds = Math.max(1, last - first) / 1000;
    const statsA = await sio.ack(sender, 'stats');
    const statsB = await sio.ack(statsClient, 'stats');
    for (const r of raws) r.close();
    const result = {
      profile: PROFILE,
      clients_on_B: CLIENTS,
      receivers: RAW ? 'raw websocket' : 'socket.io-client',
      broadcasts: COUNT,
      rate: RATE || 'max',
      payload_pad_bytes: SIZE,
      send_ms: Math.round(sent[0].ms),
      delivered: latencies.length,
      expected,
      deliveries_per_s: Math.round(latencies.length / seconds),
      broadcasts_per_s_at_B: Math.round(latencies.length / CLIENTS / seconds),
      latency_ms: Object.fromEntries(Object.entries({ p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] }).map(([k, v]) => [k, Math.round(v * 100) / 100])),
      wall_ms: Date.now() - started,
      cpu_seconds: cpu,
      published_by_A: statsA.published,
      received_by_B: statsB.received,
      publish_failures_A: statsA.publish_failures,
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await sio.closeAll();
    await Promise.all([A.stop(), B.stop()]);
    await redis.stop();
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
