// Helpers for the rally-chat tests: a chat server with its own history file in a temp
// folder, and clients that record every event they receive from the moment they are made
// (so nothing that arrives together with the CONNECT answer is missed).
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const assert = require('node:assert/strict');
const { start } = require('../lib/server');
const sio = require('../lib/sio');

/** A fresh temp folder, removed by `cleanup()`. */
function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'rally-chat-test-'));
}

/**
 * Starts rally-chat with a history file in `dir` (a fresh temp folder by default).
 * Resolves { srv, dir, db, stop(), cleanup() }.
 */
async function startChat(args = [], { dir = tempDir(), port = 0, env = {} } = {}) {
  const db = path.join(dir, 'history.db');
  const srv = await start('rally-chat', ['--db', db, ...args], { port, env });
  return {
    srv,
    dir,
    db,
    url: srv.url,
    port: srv.port,
    stop: (signal) => srv.stop(signal),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * The chat servers one suite starts: `start` is `startChat`, and `stopAll(signal)` (for
 * the suite's `after`) stops them all, with SIGKILL unless told, and removes their files.
 */
function chatServers() {
  const started = [];
  return {
    async start(args, opts) {
      const chat = await startChat(args, opts);
      started.push(chat);
      return chat;
    },
    async stopAll(signal = 'SIGKILL') {
      for (const chat of started) {
        await chat.stop(signal);
        chat.cleanup();
      }
    },
  };
}

/** Records every event a socket receives, in order, and waits for the ones a test wants. */
class Recorder {
  constructor(socket) {
    this.socket = socket;
    this.events = [];
    this.waiters = [];
    socket.onAny((event, ...args) => {
      this.events.push({ event, args });
      for (const w of [...this.waiters]) this.#check(w);
    });
  }

  /** Argument lists of every `event` received so far. */
  all(event) {
    return this.events.filter((e) => e.event === event).map((e) => e.args);
  }

  /** Argument list of the last `event` received, or undefined. */
  last(event) {
    const all = this.all(event);
    return all[all.length - 1];
  }

  /** Names of the events received so far, in order. */
  names() {
    return this.events.map((e) => e.event);
  }

  /**
   * Resolves with the argument list of the first `event` (received before or after the
   * call) whose arguments satisfy `pred`; rejects after `timeout` ms.
   */
  wait(event, pred = () => true, timeout = sio.TIMEOUT) {
    return new Promise((resolve, reject) => {
      const w = { event, pred, resolve };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        const seen = this.all(event).map((a) => sio.safeJson(a)).join('\n  ');
        reject(new Error(`timed out after ${timeout} ms waiting for a matching '${event}'; got:\n  ${seen || '(none)'}`));
      }, timeout);
      this.waiters.push(w);
      this.#check(w);
    });
  }

  /** Resolves once the LAST `event` received satisfies `pred` (for state snapshots like `users`). */
  async waitLast(event, pred, timeout = sio.TIMEOUT) {
    return sio.eventually(() => {
      const last = this.last(event);
      assert.ok(last && pred(...last), `last '${event}' is ${sio.safeJson(last)}`);
      return last;
    }, timeout);
  }

  #check(w) {
    if (!this.waiters.includes(w)) return;
    const hit = this.events.find((e) => e.event === w.event && w.pred(...e.args));
    if (hit) {
      clearTimeout(w.timer);
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve(hit.args);
    }
  }
}

/**
 * Connects a chat client (forceNew, tracked for sio.closeAll) with an optional display
 * name; resolves { socket, rec, id, welcome }.
 */
async function chatClient(url, { name, ...opts } = {}) {
  const socket = sio.client(url, { ...(name ? { auth: { name } } : {}), ...opts });
  const rec = new Recorder(socket);
  await sio.waitConnect(socket);
  const [welcome] = await rec.wait('welcome');
  return { socket, rec, id: socket.id, welcome };
}

/** Emits and resolves with all the ack's arguments. */
function ackOf(socket, event, ...args) {
  return sio.ackArgs(socket, event, ...args);
}

/** Joins a room and checks the ack is a plain `ack()`. */
async function join(client, room) {
  const res = await ackOf(client.socket, 'join', room);
  assert.deepEqual(res, [], `join ${room}: ${sio.safeJson(res)}`);
}

/** The `message` events a recorder got, as argument lists. */
function messages(rec) {
  return rec.all('message');
}

module.exports = { tempDir, startChat, chatServers, Recorder, chatClient, ackOf, join, messages };
