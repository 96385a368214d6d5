"""rally-chat with the python-socketio client: broadcast, rooms, private messages, acks.

Starts its own rally-chat (target/debug/rally-chat, built by scripts/test) on a free port
with a history file in a temp folder, runs each check, and exits non-zero on any failure.
Run it with the virtualenv scripts/test creates: .venv/bin/python tests/python/test_chat.py
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import socketio

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 5.0


def binary():
    if os.environ.get("RALLY_BIN_DIR"):
        bin_dir = Path(os.environ["RALLY_BIN_DIR"])
    else:
        target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
        if not target.is_absolute():
            target = ROOT / target
        bin_dir = target / "debug"
    path = bin_dir / "rally-chat"
    if not path.exists():
        raise SystemExit(f"{path} is missing: build it first (scripts/test does: cargo build --workspace --bins --examples)")
    return path


class ChatServer:
    """rally-chat in its own process group, on a port it picks (--port 0)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rally-chat-py-")
        self.proc = subprocess.Popen(
            [str(binary()), "--db", os.path.join(self.dir, "history.db"), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            start_new_session=True,
            text=True,
        )
        self.log = []
        threading.Thread(target=self._drain, args=(self.proc.stderr,), daemon=True).start()
        deadline = time.time() + 20
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit(f"rally-chat exited before listening:\n{''.join(self.log)}")
            self.log.append(line)
            if line.startswith("listening on "):
                self.port = int(line.strip().rsplit(":", 1)[1])
                break
            if time.time() > deadline:
                raise SystemExit("rally-chat did not announce its port")
        threading.Thread(target=self._drain, args=(self.proc.stdout,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}"

    def _drain(self, stream):
        for line in stream:
            self.log.append(line)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Client:
    """A python-socketio client that records every event it receives."""

    def __init__(self, url, name=None, transports=None):
        self.sio = socketio.Client(reconnection=False)
        self.events = []
        self.cond = threading.Condition()
        self.sio.on("*", self._record)
        self.sio.connect(url, auth={"name": name} if name else None,
                         transports=transports, wait_timeout=TIMEOUT)
        self.id = self.sio.get_sid("/")
        self.wait("welcome")

    def _record(self, event, *args):
        with self.cond:
            self.events.append((event, list(args)))
            self.cond.notify_all()

    def all(self, event):
        with self.cond:
            return [args for name, args in self.events if name == event]

    def wait(self, event, pred=lambda *args: True, timeout=TIMEOUT):
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for name, args in self.events:
                    if name == event and pred(*args):
                        return args
                left = deadline - time.time()
                if left <= 0:
                    seen = [args for name, args in self.events if name == event]
                    raise AssertionError(f"no matching {event!r} within {timeout} s; got {seen!r}")
                self.cond.wait(left)

    def close(self):
        try:
            self.sio.disconnect()
        except Exception:  # noqa: BLE001 - already gone
            pass


def test_broadcast(server, clients):
    a, b, c = (clients(name) for name in ("Ada", "Bob", "Cy"))
    a.sio.emit("message", "hello from python")
    for x in (a, b, c):
        assert x.wait("message", lambda *p: p[0] == "hello from python") == ["hello from python"]
    a.sio.emit("message", {"text": "json too", "n": [1, 2, 3]})
    assert b.wait("message", lambda *p: isinstance(p[0], dict)) == [{"text": "json too", "n": [1, 2, 3]}]
    a.sio.emit("message", b"\x00\x01\xfe\xff")
    got = b.wait("message", lambda *p: isinstance(p[0], bytes))
    assert got == [b"\x00\x01\xfe\xff"], got
    info = b.wait("message_info", lambda i: i["from"] == a.id)[0]
    assert info["name"] == "Ada" and info["room"] is None, info


def test_rooms(server, clients):
    a, b, c = clients("Ada"), clients("Bob"), clients("Cy")
    assert a.sio.call("join", "py-room", timeout=TIMEOUT) is None  # ack() with no arguments
    assert b.sio.call("join", "py-room", timeout=TIMEOUT) is None
    a.sio.emit("message", ("room hello", "py-room"))
    for x in (a, b):
        assert x.wait("message", lambda *p: p[0] == "room hello") == ["room hello", "py-room"]
    members = a.wait("room_members", lambda room, lst: room == "py-room" and len(lst) == 2)[1]
    assert sorted(m["name"] for m in members) == ["Ada", "Bob"], members
    time.sleep(0.3)
    assert c.all("message") == [], c.all("message")
    assert b.sio.call("leave", "py-room", timeout=TIMEOUT) is None
    a.sio.emit("message", ("after leave", "py-room"))
    a.wait("message", lambda *p: p[0] == "after leave")
    time.sleep(0.3)
    assert [m[0] for m in b.all("message")] == ["room hello"], b.all("message")
    # a newcomer sees the room's history
    d = clients("Di")
    assert d.sio.call("join", "py-room", timeout=TIMEOUT) is None
    room, entries = d.wait("history", lambda room, entries: room == "py-room")
    assert [e["payload"] for e in entries] == ["room hello", "after leave"], entries


def test_private_message(server, clients):
    a, b, c = clients("Ada"), clients("Bob"), clients("Cy")
    a.sio.emit("private_message", ("just for you", b.id))
    assert b.wait("private_message") == ["just for you", a.id]
    a.sio.emit("private_message", (b"bytes too", b.id))
    assert b.wait("private_message", lambda p, s: isinstance(p, bytes)) == [b"bytes too", a.id]
    time.sleep(0.3)
    assert a.all("private_message") == [] and c.all("private_message") == []
    assert all(x.all("message") == [] for x in (a, b, c))


def test_acks(server, clients):
    a, b = clients("Ada"), clients("Bob")
    # a message's ack comes once it is stored
    assert a.sio.call("message", "stored, then acked", timeout=TIMEOUT) is None
    assert a.sio.call("message", ("room, acked", "acks"), timeout=TIMEOUT) is None
    # refusals carry an error in the ack
    refused = a.sio.call("join", b.id, timeout=TIMEOUT)
    assert isinstance(refused, dict) and refused["code"] == "forbidden_room", refused
    refused = a.sio.call("join", "", timeout=TIMEOUT)
    assert refused["code"] == "invalid_room", refused
    refused = a.sio.call("private_message", ("hi", "nobody-here"), timeout=TIMEOUT)
    assert refused["code"] == "no_such_user", refused
    assert a.sio.call("set_name", "Ada L.", timeout=TIMEOUT) is None
    b.wait("users", lambda users: any(u["id"] == a.id and u["name"] == "Ada L." for u in users))
    # the stored message is in the lobby's history for the next client
    c = clients("Cy")
    room, entries = c.wait("history", lambda room, entries: room is None)
    assert "stored, then acked" in [e["payload"] for e in entries], entries


def test_transports(server, clients):
    a = clients("Polly", transports=["polling"])
    b = clients("Webb", transports=["websocket"])
    assert a.sio.transport() == "polling" and b.sio.transport() == "websocket"
    b.sio.emit("message", "across transports")
    assert a.wait("message", lambda *p: p[0] == "across transports") == ["across transports"]
    a.sio.emit("private_message", ("back", b.id))
    assert b.wait("private_message") == ["back", a.id]


TESTS = [test_broadcast, test_rooms, test_private_message, test_acks, test_transports]


def main():
    # Never hang CI: whatever happens, the script ends.
    watchdog = threading.Timer(240, lambda: (print("test_chat.py: timed out", flush=True), os._exit(3)))
    watchdog.daemon = True
    watchdog.start()
    server = ChatServer()
    failed = 0
    try:
        for test in TESTS:
            made = []

            def clients(name=None, transports=None):
                client = Client(server.url, name=name, transports=transports)
                made.append(client)
                return client

            try:
                test(server, clients)
                print(f"ok   {test.__name__}", flush=True)
            except Exception:  # noqa: BLE001 - report every failure
                failed += 1
                print(f"FAIL {test.__name__}", flush=True)
                traceback.print_exc()
            finally:
                for client in made:
                    client.close()
    finally:
        server.stop()
    if failed:
        print("".join(server.log[-40:]), file=sys.stderr)
    print(f"{len(TESTS) - failed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    code = 1
    try:
        code = main()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
