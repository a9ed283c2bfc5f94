// imock console: one page over the admin API (docs/admin-api.md). It polls the
// sessions and the status each second, streams the event log with the long poll,
// and turns each button into one admin POST whose answer lands in #status.
// Server data is written with textContent only: user ids, devices and details come
// from clients and may hold markup.
'use strict';

(() => {
  // --- Constants -------------------------------------------------------------------

  // Codes a kick sends (docs/codes.md, server codes with a DISCONNECT reason).
  const KICK_CODES = [
    [31010, 'kicked by another device'],
    [31023, 'another device logged in'],
    [31003, 'server unavailable'],
    [31009, 'user blocked'],
    [31020, 'token expired'],
    [31004, 'token incorrect'],
    [31008, 'app blocked or deleted'],
    [31029, 'account deactivated'],
    [31024, 'connection quota exceeded'],
    [30015, 'connecting too often'],
  ];
  // Codes a refused CONNACK can carry (docs/codes.md, server codes with a CONNACK).
  const REFUSE_CODES = [
    [31003, 'server unavailable'],
    [30015, 'connecting too often'],
    [31004, 'token incorrect'],
    [31020, 'token expired'],
    [31027, 'one-time token used'],
    [31009, 'user blocked'],
    [31008, 'app blocked or deleted'],
    [31002, 'client id rejected'],
    [31005, 'not authorized'],
    [31023, 'other device logged in'],
    [31024, 'connection quota exceeded'],
    [31025, 'wrong cluster'],
    [31029, 'account deactivated'],
    [31001, 'protocol version'],
  ];
  const DROP_HOWS = [['silent', 'silently'], ['disconnect', 'with DISCONNECT'], ['reset', 'TCP reset']];
  const EVENT_KINDS = [
    'start', 'accept', 'connect', 'kick', 'disconnect', 'closed', 'timeout', 'protocol_error',
    'slow_reader', 'drop', 'blackhole', 'release', 'fault', 'api', 'admin', 'accept_backoff',
    'shutdown', 'error', 'ping', 'navigation', 'message_sent', 'message_stored',
    'message_delivered', 'message_redelivered', 'message_expired', 'message_dropped',
  ];
  const APP_STATES = ['active', 'blocked', 'deleted'];
  const MAX_EVENTS = 5000;        // kept in memory and at most shown in the DOM
  const MAX_API_ROWS = 50;
  const POLL_WAIT_MS = 10000;     // server time, per long poll
  const TOKEN_KEY = 'imock-admin-token';

  // --- Small DOM helpers --------------------------------------------------------------

  const $ = (sel) => document.querySelector(sel);

  // el('td', {class: 'x', data: {seq: 1}, title: 't'}, 'text', child): text children
  // become text nodes, never markup.
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null) continue;
      if (k === 'class') node.className = v;
      else if (k === 'data') Object.assign(node.dataset, v);
      else if (k in node && typeof v !== 'string') node[k] = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) {
      if (c !== undefined && c !== null) node.append(c instanceof Node ? c : String(c));
    }
    return node;
  }

  const optionList = (pairs) => pairs.map(([v, label]) => el('option', {value: v}, label));
  const pad = (n, w = 2) => String(n).padStart(w, '0');

  function clockText(ms) {
    const d = new Date(ms);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }

  function durationText(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ${pad(Math.floor(s / 60) % 60)}m`;
    return `${Math.floor(s / 86400)}d ${Math.floor(s / 3600) % 24}h`;
  }

  // An object without the fields that are empty strings, NaN or undefined: the admin
  // API reads an empty field as a value, so fields not given are left out.
  function compact(obj) {
    const out = {};
    for (const [k, v] of Object.entries(obj)) {
      if (v === undefined || v === '' || Number.isNaN(v)) continue;
      out[k] = v;
    }
    return out;
  }

  const numberOf = (sel) => { const v = $(sel).value.trim(); return v === '' ? undefined : Number(v); };
  const textOf = (sel) => $(sel).value.trim();
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // --- Access token -------------------------------------------------------------------

  const token = {
    get: () => sessionStorage.getItem(TOKEN_KEY) || '',
    set: (t) => (t ? sessionStorage.setItem(TOKEN_KEY, t) : sessionStorage.removeItem(TOKEN_KEY)),
  };

  // /console#token=TOKEN: take it and take it out of the address bar (and history).
  function readTokenFromHash() {
    const m = /^#token=(.+)$/.exec(location.hash);
    if (!m) return false;
    token.set(decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
    return true;
  }

  function askForToken(message) {
    $('#token-why').textContent = message;
    const bar = $('#token-bar');
    if (bar.hidden) {
      bar.hidden = false;
      $('#token').focus();
    }
  }

  // --- The admin API ------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;  // 0: the server could not be reached
    }
  }

  let online = true;
  function setOnline(up) {
    if (up === online) return;
    online = up;
    $('#conn').hidden = up;
    document.body.classList.toggle('offline', !up);
  }

  // One admin request. GET without a body, POST with a JSON one. `as`: 'json' (the
  // answer's object), 'text' or 'blob'. Throws ApiError with the server's message.
  async function api(path, body, {as = 'json', timeoutMs = 15000} = {}) {
    const headers = {};
    const t = token.get();
    if (t) headers.Authorization = `Bearer ${t}`;
    const init = {headers, cache: 'no-store'};
    if (AbortSignal.timeout) init.signal = AbortSignal.timeout(timeoutMs);
    if (body !== undefined) {
      init.method = 'POST';
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      setOnline(false);
      throw new ApiError(0, 'disconnected from the server');
    }
    setOnline(true);
    if (!res.ok) {
      let message = `HTTP ${res.status}`;
      try {
        const j = await res.json();
        if (j && j.error) message = `${res.status}: ${j.error}`;
      } catch (e) { /* not JSON: keep the status */ }
      if (res.status === 401) askForToken(message);
      throw new ApiError(res.status, message);
    }
    if (as === 'text') return res.text();
    if (as === 'blob') return res.blob();
    return res.json();
  }

  // The result line of the last thing the tester did: data-ok "true" or "false", and
  // "" while its request is in flight.
  function showStatus(ok, text) {
    const s = $('#status');
    s.textContent = text;
    s.dataset.ok = ok === null ? '' : ok ? 'true' : 'false';
  }

  // A button's action: POST, show the answer, refresh what it changed.
  async function act(label, path, body = {}) {
    showStatus(null, `${label} …`);
    try {
      const answer = await api(path, body);
      showStatus(true, `${label}: ${JSON.stringify(answer)}`);
    } catch (e) {
      showStatus(false, `${label}: ${e.message}`);
    }
    refreshSoon();
  }

  // --- Header and server clock --------------------------------------------------------

  // Server time now, from the last answer that said it (it may run faster than ours).
  const clock = {serverMs: 0, localMs: 0};
  const serverNow = () => (clock.serverMs ? clock.serverMs + (Date.now() - clock.localMs) : Date.now());

  function chip(sel, text, state) {
    const c = $(sel);
    c.textContent = text;
    if (state !== undefined) c.dataset.state = state;
  }

  async function refreshStatus() {
    const s = await api('/admin/status');
    if (typeof s.now_ms !== 'number') s.now_ms = (await api('/admin/clock')).now_ms;
    Object.assign(clock, {serverMs: s.now_ms, localMs: Date.now()});
    chip('#hdr-accepting', s.accepting ? 'accepting' : 'not accepting', s.accepting ? 'ok' : 'bad');
    chip('#hdr-sessions', `sessions ${s.sessions} · connected ${s.connected}`);
    chip('#hdr-faults', `faults ${s.faults ?? 0}`, s.faults ? 'warn' : '');
    chip('#hdr-last-event', `event #${s.last_event}`);
    chip('#hdr-clock', clockText(s.now_ms).slice(0, 8));
    return s;
  }

  // --- Live sessions ------------------------------------------------------------------

  const sessionRows = new Map();  // session id -> <tr>

  // One row per session. Its cells stack two lines each (user over device and platform,
  // transport and remote over app, connected time over keep alive) so that the row and
  // its actions fit half a laptop screen.
  function sessionRow(s) {
    const id = String(s.session);
    const span = (name) => el('span', {class: name});
    const user = el('button', {type: 'button', class: 'link user', title: 'use in the users and apps form'});
    user.addEventListener('click', () => fillUserForm(s.app, tr.dataset.user, tr.dataset.device));
    const kickCode = el('select', {data: {role: 'kick-code'}, title: 'the code the kick sends'},
      ...optionList(KICK_CODES.map(([c, l]) => [c, `${c} ${l}`])));
    const dropHow = el('select', {data: {role: 'drop-how'}, title: 'how the connection is closed'},
      ...optionList(DROP_HOWS));
    const kick = el('button', {type: 'button', class: 'danger', data: {action: 'kick'}}, 'Kick');
    const drop = el('button', {type: 'button', class: 'danger', data: {action: 'drop'}}, 'Drop');
    const hole = el('button', {type: 'button', class: 'warn', data: {action: 'blackhole'},
      title: 'answer nothing (keep-alive starvation) / answer again'}, 'Blackhole');
    kick.addEventListener('click', () =>
      act(`kick #${id}`, '/admin/kick', {session: Number(id), code: Number(kickCode.value)}));
    drop.addEventListener('click', () => {
      const body = {session: Number(id)};
      if (dropHow.value === 'disconnect') body.disconnect = true;
      if (dropHow.value === 'reset') body.reset = true;
      act(`drop #${id} ${dropHow.selectedOptions[0].textContent}`, '/admin/drop', body);
    });
    hole.addEventListener('click', () => {
      const release = tr.dataset.blackholed === 'true';
      act(`${release ? 'release' : 'blackhole'} #${id}`, release ? '/admin/release' : '/admin/blackhole',
        {session: Number(id), include_new: false});
    });
    const tr = el('tr', {data: {session: id}},
      el('td', {class: 'id'}, `#${id}`),
      el('td', {class: 'who'}, el('div', {}, user), el('div', {class: 'sub'}, span('device'), span('platform'))),
      el('td', {class: 'via'}, el('div', {}, span('transport'), span('remote')), el('div', {class: 'sub'}, span('app'))),
      el('td', {class: 'time'}, el('div', {}, span('since'), span('bh')), el('div', {class: 'sub'}, span('ka'))),
      el('td', {class: 'actions'}, el('div', {class: 'row-actions'},
        el('div', {class: 'group kick'}, kickCode, kick),
        el('div', {class: 'line'}, el('div', {class: 'group drop'}, dropHow, drop), hole))));
    return tr;
  }

  function updateSessionRow(tr, s, now) {
    const set = (sel, text, title) => {
      const c = tr.querySelector(sel);
      if (c.textContent !== text) c.textContent = text;
      if (title !== undefined) c.title = title;
    };
    Object.assign(tr.dataset, {user: s.user || '', device: s.device || '', app: s.app || '',
      blackholed: String(!!s.blackholed), connected: String(!!s.connected)});
    set('.user', s.user || '(no user yet)');
    set('.device', s.device || '–', 'device (MQTT client id)');
    set('.platform', s.platform || '', 'platform');
    set('.transport', s.transport || '', 'transport');
    set('.remote', s.remote || '', 'remote address');
    set('.app', s.app || '', 'app key');
    if (s.connected && s.connected_ms) {
      set('.since', durationText(now - s.connected_ms), `connected at ${clockText(s.connected_ms)} (server time)`);
    } else {
      set('.since', 'connecting', `opened ${durationText(now - s.opened_ms)} ago, no CONNACK yet`);
    }
    set('.bh', s.blackholed ? 'blackholed' : '', 'what it sends is never answered');
    set('.ka', s.keep_alive_s ? `keep alive ${s.keep_alive_s}s` : 'keep alive –');
    set('button[data-action="blackhole"]', s.blackholed ? 'Release' : 'Blackhole');
  }

  async function refreshSessions() {
    const {sessions = []} = await api('/admin/sessions');
    const tbody = $('#sessions tbody');
    const seen = new Set();
    const now = serverNow();
    sessions.sort((a, b) => a.session - b.session);
    for (const s of sessions) {
      const id = String(s.session);
      seen.add(id);
      let tr = sessionRows.get(id);
      if (!tr) sessionRows.set(id, (tr = sessionRow(s)));
      updateSessionRow(tr, s, now);
      tbody.append(tr);  // re-appending keeps the order by id and moves nothing else
    }
    for (const [id, tr] of sessionRows) {
      if (!seen.has(id)) { tr.remove(); sessionRows.delete(id); }
    }
    $('#sessions-count').textContent = sessions.length ? `(${sessions.length})` : '';
    $('#sessions-empty').hidden = sessions.length > 0;
  }

  // --- Users, apps and server actions -------------------------------------------------

  function fillUserForm(app, user, device) {
    if (app && [...$('#act-app').options].some((o) => o.value === app)) $('#act-app').value = app;
    $('#act-user').value = user || '';
    $('#act-device').value = device || '';
  }

  const who = () => compact({app: $('#act-app').value, user: textOf('#act-user')});
  const whoDevice = () => compact({...who(), device: textOf('#act-device')});
  const whoText = (w) => [w.app, w.user, w.device].filter(Boolean).join('/') || 'anyone';

  const ACTIONS = {
    block: () => {
      const min = numberOf('#act-block-min');
      return [`block ${whoText(who())}`, '/admin/users/block',
        compact({...who(), duration_ms: min === undefined ? undefined : Math.round(min * 60000)})];
    },
    unblock: () => [`unblock ${whoText(who())}`, '/admin/users/unblock', who()],
    expire: () => [`expire tokens of ${whoText(who())}`, '/admin/tokens/expire', who()],
    refuse: () => [`refuse ${whoText(whoDevice())}`, '/admin/refuse',
      compact({...whoDevice(), count: numberOf('#act-refuse-count'), code: Number($('#act-refuse-code').value)})],
    delay: () => [`delay CONNACK of ${whoText(whoDevice())}`, '/admin/delay',
      compact({...whoDevice(), ms: numberOf('#act-delay-ms'), count: numberOf('#act-delay-count')})],
    restart: () => ['restart', '/admin/restart', compact({down_ms: numberOf('#act-down-ms')})],
    'stop-accepting': () => ['stop accepting', '/admin/stop-accepting', {silent: $('#act-silent').checked}],
    'resume-accepting': () => ['resume accepting', '/admin/resume-accepting', {}],
    'clear-faults': () => ['clear faults', '/admin/faults/clear', {}],
  };

  function setUpActions() {
    $('#act-refuse-code').append(...optionList(REFUSE_CODES.map(([c, l]) => [c, `${c} ${l}`])));
    for (const b of document.querySelectorAll('button[data-act]')) {
      b.addEventListener('click', () => act(...ACTIONS[b.dataset.act]()));
    }
    $('#user-actions').addEventListener('submit', (e) => e.preventDefault());
  }

  // --- Apps ---------------------------------------------------------------------------

  const appRows = new Map();  // app key -> <tr>

  function appRow(key) {
    const select = el('select', {data: {role: 'app-state'}, 'aria-label': `state of ${key}`},
      ...optionList(APP_STATES.map((s) => [s, s])));
    select.addEventListener('change', () =>
      act(`app ${key} ${select.value}`, '/admin/apps/state', {app: key, state: select.value}));
    return el('tr', {data: {app: key}},
      el('td', {class: 'key'}, key, el('div', {class: 'sub blocked'})), el('td', {class: 'users'}),
      el('td', {}, el('span', {class: 'badge state'})), el('td', {}, select));
  }

  async function refreshApps() {
    let apps;
    try {
      ({apps = []} = await api('/admin/apps'));
    } catch (e) {
      if (e.status === 404) return showAppsNote('This server has no /admin/apps (an older imock-server).');
      throw e;
    }
    const tbody = $('#apps tbody');
    for (const a of apps) {
      const key = a.key ?? a.app;
      let tr = appRows.get(key);
      if (!tr) appRows.set(key, (tr = appRow(key)));
      const badge = tr.querySelector('.state');
      badge.textContent = a.state;
      badge.dataset.state = a.state;
      const select = tr.querySelector('select');
      if (document.activeElement !== select) select.value = a.state;
      tr.querySelector('.users').textContent = a.users === undefined ? '' : String(a.users);
      tr.querySelector('.blocked').textContent = a.blocked && a.blocked.length ? `blocked: ${a.blocked.join(', ')}` : '';
      tbody.append(tr);
    }
    for (const [key, tr] of appRows) {
      if (!apps.some((a) => (a.key ?? a.app) === key)) { tr.remove(); appRows.delete(key); }
    }
    fillAppSelect(apps.map((a) => a.key ?? a.app));
    showAppsNote(apps.length ? '' : 'The server serves no app.');
  }

  function showAppsNote(text) {
    $('#apps-empty').textContent = text;
    $('#apps-empty').hidden = !text;
  }

  function fillAppSelect(keys) {
    const select = $('#act-app');
    const have = [...select.options].map((o) => o.value).filter(Boolean);
    if (have.join('\n') === keys.join('\n')) return;
    const chosen = select.value || keys[0] || '';
    select.replaceChildren(el('option', {value: ''}, '(any app)'), ...optionList(keys.map((k) => [k, k])));
    select.value = keys.includes(chosen) ? chosen : '';
  }

  // --- Event log ----------------------------------------------------------------------

  const log = {
    events: [],       // the last MAX_EVENTS events, oldest first
    since: null,      // the last seq read; null: not known yet
    paused: false,
    shownUpTo: 0,     // while paused: events after this seq wait
    apiCalls: [],
  };

  function eventLine(e) {
    const who = [e.app, e.user, e.device].some(Boolean) ? `${e.app || ''}/${e.user || ''}/${e.device || ''}` : '';
    return [clockText(e.t_ms), e.kind, e.session ? `#${e.session}` : '', who, e.transport || '',
      e.code ? `code=${e.code}` : '', e.detail || ''].filter(Boolean).join(' ').toLowerCase();
  }

  function eventItem(e) {
    const refused = (e.kind === 'connect' || e.kind === 'navigation') && e.code;
    const userDevice = [e.user, e.device].filter(Boolean).join('/');
    return el('li', {data: compact({seq: e.seq, kind: e.kind, user: e.user, device: e.device}),
      class: refused ? 'refused' : undefined,
      title: e.app ? `app ${e.app}` : undefined},
    el('span', {class: 't'}, clockText(e.t_ms)),
    el('span', {class: 'k'}, e.kind),
    el('span', {class: 'rest'},
      e.session ? el('span', {class: 's'}, `#${e.session}`) : null,
      userDevice ? el('span', {class: 'u'}, userDevice) : null,
      e.transport ? el('span', {class: 'tr'}, e.transport) : null,
      e.code ? el('span', {class: 'c'}, String(e.code)) : null,
      e.detail ? el('span', {class: 'd'}, e.detail) : null));
  }

  function filters() {
    return {user: textOf('#event-filter-user'), device: textOf('#event-filter-device'),
      kind: $('#event-filter-kind').value, search: textOf('#event-search').toLowerCase()};
  }

  function matches(e, f) {
    if (f.user && e.user !== f.user) return false;
    if (f.device && e.device !== f.device) return false;
    if (f.kind && e.kind !== f.kind) return false;
    if (f.search) {
      if (e.line === undefined) e.line = eventLine(e);
      if (!e.line.includes(f.search)) return false;
    }
    return true;
  }

  const eventList = () => $('#events');
  const nearBottom = (ol) => ol.scrollHeight - ol.scrollTop - ol.clientHeight < 48;

  // Appends the events that pass the filters, keeps the DOM bounded, follows the tail
  // when the reader is at the bottom.
  function showEvents(events) {
    const ol = eventList();
    const follow = nearBottom(ol);
    const f = filters();
    const frag = document.createDocumentFragment();
    for (const e of events) if (matches(e, f)) frag.append(eventItem(e));
    ol.append(frag);
    while (ol.childElementCount > MAX_EVENTS) ol.firstElementChild.remove();
    if (follow) ol.scrollTop = ol.scrollHeight;
    updateEventCount();
  }

  // Rebuilds the list from memory: after a filter change or a resume.
  function renderEvents() {
    eventList().replaceChildren();
    const upTo = log.paused ? log.shownUpTo : Infinity;
    showEvents(log.events.filter((e) => e.seq <= upTo));
    eventList().scrollTop = eventList().scrollHeight;
  }

  function updateEventCount() {
    const waiting = log.paused ? log.events.filter((e) => e.seq > log.shownUpTo).length : 0;
    const shown = eventList().childElementCount;
    $('#events-count').textContent =
      `${shown} shown · ${log.events.length} kept` + (log.paused ? ` · paused, ${waiting} new` : '');
  }

  function addEvents(events) {
    log.events.push(...events);
    if (log.events.length > MAX_EVENTS) log.events.splice(0, log.events.length - MAX_EVENTS);
    noteApiCalls(events.filter((e) => e.kind === 'api'));
    if (log.paused) updateEventCount();
    else showEvents(events);
  }

  function setPaused(paused) {
    log.paused = paused;
    log.shownUpTo = log.events.length ? log.events[log.events.length - 1].seq : 0;
    const b = $('#event-pause');
    b.textContent = paused ? 'Resume' : 'Pause';
    b.setAttribute('aria-pressed', String(paused));
    b.classList.toggle('active', paused);
    if (!paused) renderEvents();
    else updateEventCount();
  }

  let wakePoll = () => {};
  const pollPause = (ms) => new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    wakePoll = () => { clearTimeout(t); resolve(); };
  });

  // The long poll loop: since the last seq, answers at once when there are events.
  // On an error it waits 1 s, doubling up to 8 s; a new token wakes it at once.
  async function pollEvents() {
    let backoff = 1000;
    for (;;) {
      try {
        if (log.since === null) {
          // Start at most MAX_EVENTS back: the server may hold 100,000.
          log.since = Math.max(0, ((await api('/admin/status')).last_event || 0) - MAX_EVENTS);
        }
        const r = await api(`/admin/events?since=${log.since}&wait_ms=${POLL_WAIT_MS}&limit=1000`,
          undefined, {timeoutMs: 60000});
        backoff = 1000;
        const events = r.events || [];
        if (r.last_seq < log.since) {  // a new server process: its log starts again
          log.since = 0;
          continue;
        }
        if (events.length) {
          log.since = events[events.length - 1].seq;
          addEvents(events);
        } else {
          log.since = Math.max(log.since, r.last_seq || 0);
        }
      } catch (e) {
        await pollPause(backoff);
        backoff = Math.min(backoff * 2, 8000);
      }
    }
  }

  function setUpEventLog() {
    $('#event-filter-kind').append(...optionList(EVENT_KINDS.map((k) => [k, k])));
    let timer = 0;
    const later = () => { clearTimeout(timer); timer = setTimeout(renderEvents, 120); };
    for (const sel of ['#event-filter-user', '#event-filter-device', '#event-search']) {
      $(sel).addEventListener('input', later);
    }
    $('#event-filter-kind').addEventListener('change', renderEvents);
    $('#event-pause').addEventListener('click', () => setPaused(!log.paused));
    $('#event-clear').addEventListener('click', () => {
      log.events = [];
      renderEvents();
    });
  }

  // --- Server API recent calls (events of kind "api") ---------------------------------

  function noteApiCalls(events) {
    if (!events.length) return;
    log.apiCalls.push(...events);
    log.apiCalls.splice(0, Math.max(0, log.apiCalls.length - MAX_API_ROWS));
    const rows = log.apiCalls.slice().reverse().map((e) => {
      // "getToken app=... user=alice -> 200": the call, then its HTTP answer.
      const m = /^(.*?)\s*->\s*(\d+)\s*$/.exec(e.detail || '');
      const call = m ? m[1] : e.detail || '';
      const status = m ? m[2] : '';
      return el('tr', {data: {seq: e.seq}},
        el('td', {class: 't'}, clockText(e.t_ms)), el('td', {class: 'call'}, call),
        el('td', {class: 'http', data: {ok: String(status.startsWith('2'))}}, status));
    });
    $('#api-calls tbody').replaceChildren(...rows);
    $('#api-empty').hidden = true;
  }

  // --- Recording ----------------------------------------------------------------------

  const rec = {recording: false, startedMs: 0};

  function showRecording(r) {
    rec.recording = !!r.recording;
    if (r.started_ms) rec.startedMs = r.started_ms;
    const b = $('#record');
    b.textContent = rec.recording ? 'Stop recording' : 'Record';
    b.setAttribute('aria-pressed', String(rec.recording));
    b.classList.toggle('on', rec.recording);
    $('#hdr-rec').hidden = !rec.recording;
    const counts = `${r.actions ?? 0} actions · ${r.events ?? 0} events`;
    if (rec.recording) {
      const elapsed = durationText(serverNow() - rec.startedMs);
      $('#record-info').textContent = `recording for ${elapsed} · ${counts}`;
      $('#hdr-rec').textContent = `● REC ${elapsed}`;
    } else if (r.finished || r.actions !== undefined) {
      $('#record-info').textContent = `last recording: ${counts}`;
    }
  }

  async function refreshRecording({offerLast = false} = {}) {
    try {
      const r = await api('/admin/record');
      showRecording(r);
      if (offerLast && r.finished && !r.recording) await prepareDownloads();
    } catch (e) {
      if (e.status === 404) $('#record-info').textContent = 'This server cannot record (an older imock-server).';
    }
  }

  // Blob URLs on real <a download> links: the content needs the token, a plain link
  // could not send it.
  function offer(a, blob, fileName) {
    if (a.href.startsWith('blob:')) URL.revokeObjectURL(a.href);
    a.href = URL.createObjectURL(blob);
    a.download = fileName;
    a.textContent = `Download ${fileName}`;
    a.hidden = false;
  }

  // The newest request wins: a name typed while the last one was on its way asks
  // again, and the older answer is dropped.
  let downloadsAsked = 0;
  let stoppedOnce = false;

  async function prepareDownloads() {
    const asked = ++downloadsAsked;
    const name = textOf('#scenario-name') || 'recorded';
    try {
      const [yaml, json] = await Promise.all([
        api(`/admin/record/scenario?name=${encodeURIComponent(name)}`, undefined, {as: 'text'}),
        api('/admin/record/last', undefined, {as: 'text'})]);
      if (asked !== downloadsAsked) return;
      offer($('#download-scenario'), new Blob([yaml], {type: 'application/yaml'}), `${name}.yaml`);
      offer($('#download-recording'), new Blob([json], {type: 'application/json'}), `${name}.recording.json`);
    } catch (e) {
      showStatus(false, `recording download: ${e.message}`);
    }
  }

  async function toggleRecording() {
    const starting = !rec.recording;
    const path = starting ? '/admin/record/start' : '/admin/record/stop';
    showStatus(null, `${starting ? 'record start' : 'record stop'} …`);
    try {
      const r = await api(path, {});
      showStatus(true, `${starting ? 'record start' : 'record stop'}: ${JSON.stringify(r)}`);
      if (starting) {
        for (const a of [$('#download-scenario'), $('#download-recording')]) a.hidden = true;
      }
      showRecording(r);
      if (!starting) {
        stoppedOnce = true;
        await prepareDownloads();
      }
    } catch (e) {
      showStatus(false, `${starting ? 'record start' : 'record stop'}: ${e.message}`);
      refreshRecording();
    }
  }

  function setUpRecording() {
    $('#record').addEventListener('click', toggleRecording);
    let timer = 0;
    $('#scenario-name').addEventListener('input', () => {
      clearTimeout(timer);
      if (stoppedOnce && !rec.recording) timer = setTimeout(prepareDownloads, 400);
    });
  }

  // --- Files --------------------------------------------------------------------------

  const sizeText = (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);

  async function refreshFiles() {
    const box = $('#files');
    let files;
    try {
      ({files = []} = await api('/admin/files'));
    } catch (e) {
      box.replaceChildren(el('p', {class: 'empty'}, e.status === 404
        ? 'This server has no /admin/files (an older imock-server).' : `Files: ${e.message}`));
      return;
    }
    if (!files.length) {
      box.replaceChildren(el('p', {class: 'empty'}, 'No file yet. Start the server with ',
        el('code', {}, 'imock-server --console-file PATH'),
        ' (a conformance matrix, storm charts) to show it here.'));
      return;
    }
    box.replaceChildren(el('ul', {class: 'file-list'}, ...files.map((f) => {
      const b = el('button', {type: 'button', class: 'link', data: {file: f.name}}, f.name);
      b.addEventListener('click', () => showFile(f.name));
      return el('li', {}, b, el('span', {class: 'hint'}, ` ${(f.type || '').split(';')[0]} · ${sizeText(f.size || 0)}`));
    })));
  }

  let fileUrl = '';
  async function showFile(name) {
    const view = $('#file-view');
    try {
      const blob = await api(`/admin/files/${encodeURIComponent(name)}`, undefined, {as: 'blob'});
      if (fileUrl) URL.revokeObjectURL(fileUrl);
      fileUrl = '';
      const type = blob.type || '';
      if (/svg|html/.test(type)) {
        fileUrl = URL.createObjectURL(blob);
        // sandbox="": no script, no same origin, no forms; a chart or report only shows.
        view.replaceChildren(el('iframe', {src: fileUrl, sandbox: '', title: name, class: 'file-frame'}));
      } else if (type.startsWith('image/')) {
        fileUrl = URL.createObjectURL(blob);
        view.replaceChildren(el('img', {src: fileUrl, alt: name, class: 'file-img'}));
      } else {
        view.replaceChildren(el('pre', {class: 'file-text'}, await blob.text()));
      }
      $('#file-view-name').textContent = name;
      $('#file-view-card').hidden = false;
      $('#file-view-card').scrollIntoView({behavior: 'smooth', block: 'nearest'});
    } catch (e) {
      showStatus(false, `file ${name}: ${e.message}`);
    }
  }

  function setUpFiles() {
    $('#files-refresh').addEventListener('click', refreshFiles);
    $('#file-view-close').addEventListener('click', () => {
      $('#file-view-card').hidden = true;
      $('#file-view').replaceChildren();
    });
  }

  // --- Refresh loop and start ---------------------------------------------------------

  let tickTimer = 0;
  let ticks = 0;

  // Once a second: status and sessions; the recording while one runs; apps every 5 s.
  async function tick() {
    clearTimeout(tickTimer);
    ticks += 1;
    const jobs = [refreshStatus().then(refreshSessions)];
    if (rec.recording) jobs.push(refreshRecording());
    if (ticks % 5 === 0) jobs.push(refreshApps());
    await Promise.allSettled(jobs);
    clearTimeout(tickTimer);  // a refreshSoon() meanwhile started another tick: keep one chain
    tickTimer = setTimeout(tick, 1000);
  }

  // After an action: show its effect now rather than within the second.
  function refreshSoon() {
    clearTimeout(tickTimer);
    tickTimer = setTimeout(() => { refreshApps().catch(() => {}); tick(); }, 150);
  }

  function setUpToken() {
    $('#token').value = token.get();
    const useToken = () => {
      $('#token-bar').hidden = true;
      wakePoll();
      refreshApps().catch(() => {});
      refreshFiles();
      refreshRecording();
      refreshSoon();
    };
    $('#token-bar').addEventListener('submit', (e) => {
      e.preventDefault();
      token.set($('#token').value.trim());
      useToken();
    });
    // A #token= address pasted into the open page: no reload, so read it here too.
    window.addEventListener('hashchange', () => {
      if (!readTokenFromHash()) return;
      $('#token').value = token.get();
      useToken();
    });
  }

  async function start() {
    readTokenFromHash();
    setUpToken();
    setUpActions();
    setUpEventLog();
    setUpRecording();
    setUpFiles();
    // Ready for the tests once the first status and sessions answers are in (or failed).
    const status = refreshStatus();
    await Promise.allSettled([status, status.then(refreshSessions)]);
    document.body.dataset.ready = 'true';
    pollEvents();
    refreshApps().catch(() => {});
    refreshRecording({offerLast: true});
    refreshFiles();
    tickTimer = setTimeout(tick, 1000);
  }

  document.addEventListener('DOMContentLoaded', start);
})();
