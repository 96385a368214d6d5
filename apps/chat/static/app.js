// The chat page. Speaks the protocol's four events (message, join, leave,
// private_message) and listens to the server's extra ones (welcome, users, rooms,
// room_members, history, message_info, typing, notice, error).
// Every piece of user data is put on the page as text (textContent), never as HTML.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const el = {
    status: $('status'),
    nameForm: $('name-form'),
    nameInput: $('name-input'),
    menuToggle: $('menu-toggle'),
    sidebar: $('sidebar'),
    channels: $('channels'),
    joinForm: $('join-form'),
    roomInput: $('room-input'),
    rooms: $('rooms'),
    users: $('users'),
    onlineCount: $('online-count'),
    title: $('channel-title'),
    detail: $('channel-detail'),
    leave: $('leave-button'),
    messages: $('messages'),
    typing: $('typing'),
    composer: $('composer'),
    input: $('input'),
  };

  const NAME_KEY = 'rally-chat-name';
  const LOBBY = 'lobby';
  const roomKey = (room) => (room == null ? LOBBY : `room:${room}`);
  const pmKey = (id) => `pm:${id}`;

  const state = {
    // `chosen`: the name this person picked (remembered across visits); `name`: the one
    // shown, which the server gives (a guest name until one is chosen).
    me: { id: null, name: '', chosen: localStorage.getItem(NAME_KEY) || '' },
    channels: new Map(), // key -> channel
    current: LOBBY,
    users: new Map(), // socket id -> name
    openRooms: [],
    pendingInfo: null, // the message_info describing the next message
    typingSentAt: 0,
    typingRoom: undefined,
    recovery: false, // events carry an offset as their last argument
  };

  function channel(key, init) {
    let ch = state.channels.get(key);
    if (!ch) {
      ch = { key, messages: [], ids: new Set(), unread: 0, members: null, typing: new Map(), ...init };
      state.channels.set(key, ch);
      renderChannels();
    }
    return ch;
  }
  channel(LOBBY, { kind: 'lobby', title: 'Lobby' });

  // ---- the connection ----------------------------------------------------------

  // Connects at once. The handshake carries the chosen name, if any; a guest sends the
  // guest name it had, so a reconnection keeps it while it is free. It asks for
  // connection state recovery: after a drop the server gives back the same socket and
  // what was missed, so the page carries on where it was.
  const socket = io({
    auth: (cb) => {
      if (state.me.chosen) cb({ name: state.me.chosen, recover: true });
      else if (state.me.name) cb({ guest: state.me.name, recover: true });
      else cb({ recover: true });
    },
  });

  socket.on('connect', () => {
    setStatus('online', 'online');
    // Recovered: the same socket, still in its rooms, and the missed events came first.
    if (state.me.id && socket.id === state.me.id) return;
    // Rooms are per connection: join them again after a reconnection.
    for (const ch of state.channels.values()) {
      if (ch.kind === 'room') {
        socket.emit('join', ch.room, (res) => { if (res && res.error) notice(ch.key, `Could not rejoin: ${res.error}`, 'error'); });
      }
    }
  });
  socket.on('disconnect', () => setStatus('reconnecting…', 'offline'));
  socket.io.on('reconnect_attempt', () => setStatus('reconnecting…', 'offline'));
  socket.on('connect_error', () => setStatus('offline, retrying…', 'offline'));

  socket.on('welcome', (info) => {
    state.me.id = info.id;
    // With recovery, every event's last argument is its offset, which the page skips.
    state.recovery = info.recovery === true;
    state.me.name = info.name;
    // A stored name the server refused (it breaks the rules) is forgotten.
    if (state.me.chosen && state.me.chosen !== info.name) {
      state.me.chosen = '';
      localStorage.removeItem(NAME_KEY);
    }
    if (document.activeElement !== el.nameInput) el.nameInput.value = info.name;
    renderUsers();
  });

  socket.on('users', (list) => {
    state.users = new Map(list.map((u) => [u.id, u.name]));
    for (const ch of state.channels.values()) {
      if (ch.kind === 'private' && state.users.has(ch.peer)) ch.title = `@${state.users.get(ch.peer)}`;
    }
    renderUsers();
    renderChannels();
    renderHeader();
  });

  socket.on('rooms', (list) => {
    state.openRooms = list;
    renderRooms();
  });

  socket.on('room_members', (room, members) => {
    const ch = state.channels.get(roomKey(room));
    if (!ch) return;
    ch.members = members;
    if (ch.key === state.current) renderHeader();
  });

  socket.on('history', (room, entries) => {
    const ch = room == null ? state.channels.get(LOBBY) : state.channels.get(roomKey(room));
    if (!ch) return;
    const fresh = entries.filter((e) => !ch.ids.has(e.id));
    if (!fresh.length) return;
    // History comes before whatever arrived live since the join.
    const items = fresh.map((e) => ({
      id: e.id, name: e.name, time: e.time, payload: e.payload, mine: e.from === state.me.id, past: true,
    }));
    for (const item of items) ch.ids.add(item.id);
    const firstLive = ch.messages.findIndex((m) => !m.past);
    if (firstLive < 0) ch.messages.push(...items);
    else ch.messages.splice(firstLive, 0, ...items);
    if (ch.key === state.current) renderMessages();
  });

  socket.on('message_info', (info) => { state.pendingInfo = info; });

  socket.on('message', (...args) => {
    if (state.recovery) args.pop();
    const [payload, room] = args;
    const info = state.pendingInfo;
    state.pendingInfo = null;
    const ch = state.channels.get(roomKey(room));
    if (!ch) return;
    const matching = info && (info.room ?? null) === (room ?? null) ? info : null;
    addMessage(ch, {
      id: matching ? matching.id : null,
      name: matching ? matching.name : 'someone',
      time: matching ? matching.time : Date.now(),
      payload,
      mine: matching ? matching.from === state.me.id : false,
    });
  });

  socket.on('private_message', (payload, from) => {
    const ch = channel(pmKey(from), { kind: 'private', peer: from, title: `@${state.users.get(from) || from}` });
    addMessage(ch, { name: state.users.get(from) || from, time: Date.now(), payload, mine: false });
  });

  socket.on('typing', (signal) => {
    const ch = state.channels.get(roomKey(signal.room));
    if (!ch) return;
    clearTimeout((ch.typing.get(signal.id) || {}).timer);
    if (signal.typing) {
      // The server ends it; the timer only guards against a lost signal.
      const timer = setTimeout(() => { ch.typing.delete(signal.id); renderTyping(); }, 10000);
      ch.typing.set(signal.id, { name: signal.name, timer });
    } else {
      ch.typing.delete(signal.id);
    }
    if (ch.key === state.current) renderTyping();
  });

  socket.on('notice', (n) => notice(roomKey(n.room), n.text));

  socket.on('error', (err) => notice(state.current, err && err.message ? err.message : String(err), 'error'));

  // ---- actions -------------------------------------------------------------------

  el.composer.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = el.input.value.trim();
    if (!text) return;
    const ch = state.channels.get(state.current);
    const answer = (res) => { if (res && res.error) notice(ch.key, `Not sent: ${res.error}`, 'error'); };
    if (ch.kind === 'private') {
      if (!state.users.has(ch.peer)) {
        notice(ch.key, 'This person is no longer online.', 'error');
        return;
      }
      socket.emit('private_message', text, ch.peer, answer);
      addMessage(ch, { name: state.me.name, time: Date.now(), payload: text, mine: true });
    } else if (ch.kind === 'room') {
      socket.emit('message', text, ch.room, answer);
    } else {
      socket.emit('message', text, answer);
    }
    state.typingSentAt = 0;
    el.input.value = '';
  });

  el.input.addEventListener('input', () => {
    const ch = state.channels.get(state.current);
    if (ch.kind === 'private') return;
    const room = ch.kind === 'room' ? ch.room : null;
    if (!el.input.value) { stopTyping(); return; }
    const now = Date.now();
    if (now - state.typingSentAt > 1000 || state.typingRoom !== room) {
      socket.emit('typing', room);
      state.typingSentAt = now;
      state.typingRoom = room;
    }
  });
  el.input.addEventListener('blur', stopTyping);

  function stopTyping() {
    if (state.typingRoom === undefined) return;
    socket.emit('typing', state.typingRoom, false);
    state.typingRoom = undefined;
    state.typingSentAt = 0;
  }

  el.nameForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = el.nameInput.value.trim();
    if (!name || name === state.me.name) return;
    socket.emit('set_name', name, (res) => {
      if (res && res.error) {
        notice(state.current, `Name not changed: ${res.error}`, 'error');
        el.nameInput.value = state.me.name;
        return;
      }
      state.me.name = name;
      state.me.chosen = name;
      localStorage.setItem(NAME_KEY, name);
      renderUsers();
      el.input.focus();
    });
  });

  el.joinForm.addEventListener('submit', (e) => {
    e.preventDefault();
    join(el.roomInput.value);
  });

  function join(room) {
    if (!room) return;
    const key = roomKey(room);
    const existed = state.channels.has(key);
    socket.emit('join', room, (res) => {
      if (res && res.error) {
        if (!existed) {
          state.channels.delete(key);
          renderChannels();
        }
        notice(state.current, `Cannot join “${room}”: ${res.error}`, 'error');
        return;
      }
      el.roomInput.value = '';
      select(roomKey(room));
    });
    // Made before the answer, so the history that precedes it has a home.
    channel(key, { kind: 'room', room, title: `#${room}` });
  }

  el.leave.addEventListener('click', () => {
    const ch = state.channels.get(state.current);
    if (ch.kind === 'room') {
      socket.emit('leave', ch.room, () => {});
    }
    state.channels.delete(ch.key);
    select(LOBBY);
  });

  el.menuToggle.addEventListener('click', () => setMenu(el.sidebar.dataset.open !== 'true'));
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && el.sidebar.dataset.open === 'true') {
      setMenu(false);
      el.menuToggle.focus();
    }
  });

  function setMenu(open) {
    el.sidebar.dataset.open = String(open);
    el.menuToggle.setAttribute('aria-expanded', String(open));
  }

  function select(key) {
    if (!state.channels.has(key)) key = LOBBY;
    if (state.current !== key) stopTyping();
    state.current = key;
    const ch = state.channels.get(key);
    ch.unread = 0;
    setMenu(false);
    renderChannels();
    renderHeader();
    renderMessages();
    renderTyping();
    el.input.focus();
  }

  // ---- rendering (text only) -----------------------------------------------------

  function setStatus(text, kind) {
    el.status.textContent = text;
    el.status.dataset.kind = kind;
  }

  function addMessage(ch, msg) {
    if (msg.id) {
      if (ch.ids.has(msg.id)) return;
      ch.ids.add(msg.id);
    }
    ch.messages.push(msg);
    if (ch.key === state.current) {
      appendMessage(msg);
    } else {
      ch.unread += 1;
      renderChannels();
    }
  }

  function notice(key, text, kind = 'notice') {
    const ch = state.channels.get(key) || state.channels.get(state.current);
    addMessage(ch, { system: true, kind, text, time: Date.now() });
  }

  function show(payload) {
    if (typeof payload === 'string') return payload;
    if (payload instanceof ArrayBuffer) return `[binary data, ${payload.byteLength} bytes]`;
    if (ArrayBuffer.isView(payload)) return `[binary data, ${payload.byteLength} bytes]`;
    if (payload && typeof payload === 'object' && typeof payload.text === 'string') return payload.text;
    try {
      return JSON.stringify(payload, (k, v) => (v instanceof ArrayBuffer ? `[binary data, ${v.byteLength} bytes]` : v));
    } catch {
      return String(payload);
    }
  }

  const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

  function messageItem(msg) {
    const li = document.createElement('li');
    if (msg.system) {
      li.className = `system ${msg.kind}`;
      li.textContent = msg.text;
      return li;
    }
    li.className = msg.mine ? 'message mine' : 'message';
    if (msg.past) li.classList.add('past');
    const meta = document.createElement('div');
    meta.className = 'meta';
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = msg.name;
    const when = document.createElement('time');
    const date = new Date(msg.time);
    when.dateTime = date.toISOString();
    when.textContent = clock.format(date);
    meta.append(who, when);
    const text = document.createElement('div');
    text.className = 'text';
    text.textContent = show(msg.payload);
    li.append(meta, text);
    return li;
  }

  function nearBottom() {
    const m = el.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 80;
  }

  function appendMessage(msg) {
    const stick = nearBottom();
    el.messages.append(messageItem(msg));
    if (stick || msg.mine) el.messages.scrollTop = el.messages.scrollHeight;
  }

  function renderMessages() {
    const ch = state.channels.get(state.current);
    el.messages.replaceChildren(...ch.messages.map(messageItem));
    el.messages.scrollTop = el.messages.scrollHeight;
  }

  function renderHeader() {
    const ch = state.channels.get(state.current);
    el.title.textContent = ch.title;
    el.leave.hidden = ch.kind === 'lobby';
    el.leave.textContent = ch.kind === 'room' ? 'Leave room' : 'Close';
    if (ch.kind === 'room' && ch.members) {
      el.detail.textContent = `${ch.members.length} here: ${ch.members.map((m) => m.name).join(', ')}`;
    } else if (ch.kind === 'lobby') {
      el.detail.textContent = `${state.users.size} online`;
    } else if (ch.kind === 'private') {
      el.detail.textContent = state.users.has(ch.peer) ? 'private conversation' : 'offline';
    } else {
      el.detail.textContent = '';
    }
    el.input.placeholder = ch.kind === 'lobby' ? 'Message the lobby' : `Message ${ch.title}`;
  }

  function renderTyping() {
    const ch = state.channels.get(state.current);
    const names = [...ch.typing.values()].map((t) => t.name);
    el.typing.textContent = names.length === 0 ? ''
      : names.length === 1 ? `${names[0]} is typing…`
        : names.length <= 3 ? `${names.join(', ')} are typing…`
          : 'Several people are typing…';
  }

  function button(label, onClick, opts = {}) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    if (opts.current) b.setAttribute('aria-current', 'true');
    if (opts.title) b.title = opts.title;
    b.addEventListener('click', onClick);
    return b;
  }

  function renderChannels() {
    const items = [...state.channels.values()].map((ch) => {
      const li = document.createElement('li');
      const b = button(ch.title, () => select(ch.key), { current: ch.key === state.current });
      b.className = `channel ${ch.kind}`;
      if (ch.unread) {
        const badge = document.createElement('span');
        badge.className = 'badge';
        badge.textContent = String(ch.unread);
        badge.setAttribute('aria-label', `${ch.unread} unread`);
        b.append(badge);
      }
      li.append(b);
      return li;
    });
    el.channels.replaceChildren(...items);
  }

  function renderRooms() {
    const items = state.openRooms
      .filter((r) => !state.channels.has(roomKey(r.name)))
      .map((r) => {
        const li = document.createElement('li');
        const b = button(`#${r.name}`, () => join(r.name), { title: `Join #${r.name}` });
        const count = document.createElement('span');
        count.className = 'count';
        count.textContent = String(r.members);
        b.append(count);
        li.append(b);
        return li;
      });
    el.rooms.replaceChildren(...items);
    el.rooms.hidden = items.length === 0;
    $('rooms-heading').hidden = items.length === 0;
  }

  function renderUsers() {
    el.onlineCount.textContent = String(state.users.size);
    const items = [...state.users].map(([id, name]) => {
      const li = document.createElement('li');
      const self = id === state.me.id;
      const b = button(self ? `${name} (you)` : name, () => {
        if (self) return;
        channel(pmKey(id), { kind: 'private', peer: id, title: `@${name}` });
        select(pmKey(id));
      }, { title: self ? 'This is you' : `Private message to ${name}` });
      b.className = self ? 'user self' : 'user';
      b.dataset.id = id;
      if (self) b.disabled = true;
      li.append(b);
      return li;
    });
    el.users.replaceChildren(...items);
  }

  el.nameInput.value = state.me.chosen;
  setStatus('connecting…', 'waiting');
  renderChannels();
  renderHeader();
  el.input.focus();
})();
