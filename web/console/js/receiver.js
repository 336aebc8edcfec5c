// receiver.js — the receiver page: one end user's WebSocket session (docs/client-protocol.md).
//
// receiver.html?sdkappid=&identifier=&usersig= connects to /v4/ws on the page's own host
// (ws:// or wss:// as the page), shows each push as it arrives, acknowledges it
// ({"Event":"Ack","Seq":n}), marks revoked pushes, stops on Kicked (close 4001), and
// otherwise reconnects with exponential backoff. Without those parameters it shows a login
// form (a plain GET form back to this page).
//
// Browsers cannot send WebSocket pings, and the server closes a connection silent for
// 3×PingSec: every PingSec the page repeats its last Ack (a no-op for the server), which
// counts as activity.

import { $, replace, formatTime } from './dom.js';
import { renderPush, markRevoked, detectImagePolicy } from './render.js';

const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const KICKED_CODE = 4001;
const MAX_SHOWN = 500;          // older items leave the list (the server keeps nothing either)

const params = new URLSearchParams(location.search);
const login = {
  sdkappid: (params.get('sdkappid') || '').trim(),
  identifier: (params.get('identifier') || '').trim(),
  usersig: (params.get('usersig') || '').trim(),
};

const ui = {
  state: $('#r-state'), detail: $('#r-detail'), toggle: $('#r-toggle'), clear: $('#r-clear'),
  list: $('#r-messages'), count: $('#r-count'),
};

const session = {
  ws: null,
  attempt: 0,           // failed connections in a row (backoff exponent)
  helloSeen: false,     // on the current connection
  wanted: true,         // false after Disconnect, Kicked or a refused login
  lastAck: 0,
  pingSec: 30,
  keepalive: 0,
  retryTimer: 0,
  countdown: 0,
  received: 0,
  bySeq: new Map(),     // Seq → list item (duplicates are dropped: delivery is at-least-once)
  revokedTasks: new Set(),
};

function setState(state, text, detail = '') {
  ui.state.dataset.state = state;
  ui.state.textContent = text;
  ui.detail.textContent = detail;
  ui.toggle.textContent = state === 'connected' || state === 'connecting' || state === 'waiting' ? 'Disconnect' : 'Connect';
}

function wsUrl() {
  const q = new URLSearchParams(login);
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/v4/ws?${q}`;
}

function send(event) {
  if (session.ws && session.ws.readyState === WebSocket.OPEN) session.ws.send(JSON.stringify(event));
}

function connect() {
  clearTimeout(session.retryTimer);
  clearInterval(session.countdown);
  session.wanted = true;
  session.helloSeen = false;
  setState('connecting', 'Connecting…', session.attempt ? `attempt ${session.attempt + 1}` : '');
  let ws;
  try {
    ws = new WebSocket(wsUrl());
  } catch (e) {
    setState('failed', 'Cannot connect', String(e.message || e));
    return;
  }
  session.ws = ws;
  ws.addEventListener('message', (ev) => {
    if (session.ws !== ws) return;
    let m;
    try { m = JSON.parse(ev.data); } catch (e) { return; }
    if (m && typeof m === 'object') onEvent(m);
  });
  ws.addEventListener('close', (ev) => {
    if (session.ws !== ws) return;
    session.ws = null;
    onClose(ev);
  });
}

function onEvent(m) {
  switch (m.Event) {
    case 'Hello':
      session.helloSeen = true;
      session.attempt = 0;
      session.pingSec = Number(m.PingSec) > 0 ? Number(m.PingSec) : 30;
      setState('connected', 'Connected', `as ${m.UserID}${m.ServerTime ? ` · server time ${formatTime(m.ServerTime)}` : ''}`);
      clearInterval(session.keepalive);
      session.keepalive = setInterval(() => send({ Event: 'Ack', Seq: session.lastAck }),
        Math.max(1, session.pingSec) * 1000);
      break;
    case 'Msg':
      onPush(m);
      break;
    case 'Revoke': {
      session.revokedTasks.add(String(m.TaskId));
      const item = session.bySeq.get(Number(m.Seq)) ||
        Array.from(session.bySeq.values()).find((el) => el.dataset.taskId === String(m.TaskId));
      if (item) markRevoked(item);
      break;
    }
    case 'Kicked':
      session.wanted = false;
      setState('kicked', 'Kicked', m.Reason ? `reason: ${m.Reason}` : 'another login or the operator closed this session');
      break;
    default:
      break;        // unknown server events are ignored (forward compatible)
  }
}

function onPush(m) {
  const seq = Number(m.Seq);
  if (!Number.isSafeInteger(seq) || seq < 0) return;
  if (!session.bySeq.has(seq)) {
    const item = renderPush(m);
    if (session.revokedTasks.has(String(m.TaskId))) markRevoked(item);
    session.bySeq.set(seq, item);
    ui.list.prepend(item);
    session.received++;
    while (session.bySeq.size > MAX_SHOWN) {
      const oldest = Math.min(...session.bySeq.keys());
      session.bySeq.get(oldest).remove();
      session.bySeq.delete(oldest);
    }
    showCount();
  }
  if (seq > session.lastAck) session.lastAck = seq;
  send({ Event: 'Ack', Seq: seq });
}

function showCount() {
  const shown = session.bySeq.size;
  ui.count.textContent = shown === 0
    ? 'No pushes yet: they appear here as they arrive.'
    : `${session.received} push${session.received === 1 ? '' : 'es'} received${shown < session.received ? `, ${shown} shown` : ''}.`;
}

async function onClose(ev) {
  clearInterval(session.keepalive);
  const why = `close code ${ev.code}${ev.reason ? `: ${ev.reason}` : ''}`;
  if (ev.code === KICKED_CODE || ui.state.dataset.state === 'kicked') {
    session.wanted = false;
    if (ui.state.dataset.state !== 'kicked') setState('kicked', 'Kicked', ev.reason || why);
    return;
  }
  if (!session.wanted) {
    setState('idle', 'Disconnected', why);
    return;
  }
  if (!session.helloSeen) {
    // The upgrade was refused or the server is away: a plain GET of the same URL answers a
    // refused login with the JSON envelope (401/403/400), which tells which it was.
    const refused = await loginRefusal();
    if (!session.wanted) return;     // Disconnect pressed meanwhile
    if (refused) {
      session.wanted = false;
      setState('failed', 'Login refused', `Error ${refused.ErrorCode}: ${refused.ErrorInfo}`);
      return;
    }
  }
  scheduleReconnect(why);
}

async function loginRefusal() {
  try {
    const res = await fetch(wsUrl().replace(/^ws/, 'http'), { cache: 'no-store' });
    if (res.status < 400 || res.status >= 500) return null;
    const doc = await res.json();
    return doc && typeof doc.ErrorCode === 'number' && doc.ErrorCode !== 0 ? doc : null;
  } catch (e) {
    return null;
  }
}

function scheduleReconnect(why) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** session.attempt);
  const delay = Math.round(base / 2 + Math.random() * base / 2);
  session.attempt++;
  const due = Date.now() + delay;
  const tick = () => {
    const left = Math.max(0, Math.ceil((due - Date.now()) / 1000));
    setState('waiting', 'Reconnecting', `in ${left} s (${why})`);
  };
  tick();
  clearInterval(session.countdown);
  session.countdown = setInterval(tick, 1000);
  session.retryTimer = setTimeout(connect, delay);
}

function disconnect() {
  session.wanted = false;
  clearTimeout(session.retryTimer);
  clearInterval(session.countdown);
  clearInterval(session.keepalive);
  if (session.ws) session.ws.close(1000, 'closed by the user');
  else setState('idle', 'Disconnected');
}

function start() {
  const feed = $('#feed');
  feed.hidden = false;
  replace($('#r-user'), login.identifier);
  document.title = `imcast · ${login.identifier}`;
  ui.toggle.addEventListener('click', () => {
    if (['connected', 'connecting', 'waiting'].includes(ui.state.dataset.state)) disconnect();
    else { session.attempt = 0; connect(); }
  });
  ui.clear.addEventListener('click', () => {
    ui.list.replaceChildren();
    session.bySeq.clear();
    session.received = 0;
    showCount();
  });
  window.addEventListener('online', () => {
    if (session.wanted && !session.ws) { session.attempt = 0; connect(); }
  });
  detectImagePolicy().finally(connect);
}

function showLogin() {
  $('#login').hidden = false;
  for (const k of ['sdkappid', 'identifier', 'usersig']) {
    if (login[k]) $(`#l-${k}`).value = login[k];
  }
  const first = ['identifier', 'usersig'].find((k) => !login[k]);
  $(`#l-${first || 'identifier'}`).focus();
}

if (login.sdkappid && login.identifier && login.usersig) start();
else showLogin();
