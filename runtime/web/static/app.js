// The mitschnitt web client: plain DOM, no framework. Every server text goes in through textContent (never
// innerHTML), so nothing from a journal can become markup.
import { STRINGS, pickLanguage } from './i18n.js';

const PAGE = 50;
const $ = (id) => document.getElementById(id);
const state = { me: null, csrf: '', lang: 'en', rows: [], next: null, filter: {}, calls: [], events: null, timer: null };

function t(key) {
  return STRINGS[state.lang][key] ?? key;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c) node.append(c);
  return node;
}

function applyLanguage() {
  document.documentElement.lang = state.lang;
  $('lang').value = state.lang;
  for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  if (state.me) {
    $('who').textContent = `${t('signedInAs')} ${state.me.name} (${state.me.ext})`;
    renderRows();
    renderCalls();
  }
}

async function api(path, options = {}) {
  const headers = { Accept: 'application/json', ...(options.headers ?? {}) };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  if (options.method && options.method !== 'GET') headers['X-CSRF-Token'] = state.csrf;
  const res = await fetch(path, {
    method: options.method ?? 'GET',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    credentials: 'same-origin',
  });
  if (res.status === 401 && path !== '/api/login') {
    signedOut();
    throw new Error('signed out');
  }
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  return { status: res.status, data };
}

// ---- sign-in -------------------------------------------------------------------------------------------------

function signedOut() {
  state.me = null;
  state.events?.close();
  state.events = null;
  clearInterval(state.timer);
  $('app').hidden = true;
  $('logout').hidden = true;
  $('who').textContent = '';
  $('login').hidden = false;
  $('audio').removeAttribute('src');
  $('login-user').focus();
}

function signedIn(me) {
  state.me = me.user;
  state.csrf = me.csrf;
  // The server read Accept-Language; an explicit choice in the switch wins.
  if (!localStorage.getItem('mitschnitt.lang')) state.lang = me.lang;
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  applyLanguage();
  loadJournal(true);
  loadCalls();
  listen();
  state.timer = setInterval(tickDurations, 1000);
}

async function onLogin(event) {
  event.preventDefault();
  $('login-error').textContent = '';
  const { status, data } = await api('/api/login', {
    method: 'POST',
    body: { user: $('login-user').value.trim(), password: $('login-password').value },
  });
  $('login-password').value = '';
  if (status === 200) return signedIn(data);
  $('login-error').textContent = t(status === 429 ? 'tooMany' : status === 503 ? 'unavailable' : 'badLogin');
}

async function onLogout() {
  await api('/api/logout', { method: 'POST', body: {} }).catch(() => {});
  signedOut();
}

// ---- live events ---------------------------------------------------------------------------------------------

function listen() {
  state.events?.close();
  const source = new EventSource('/api/events');
  source.addEventListener('journal', () => {
    // A fresh first page is cheap; if the user paged further, only offer it.
    if (state.rows.length <= PAGE) loadJournal(true);
    else $('new-note').hidden = false;
  });
  source.addEventListener('calls', () => loadCalls());
  source.addEventListener('error', () => {
    // EventSource reconnects by itself; when it gives up (e.g. 401) find out whether we are still signed in.
    if (source.readyState === EventSource.CLOSED) setTimeout(() => api('/api/me').then(() => listen()).catch(() => {}), 3000);
  });
  state.events = source;
}

// ---- journal -------------------------------------------------------------------------------------------------

function readFilter() {
  const f = {};
  const day = (value, plus) => {
    const [y, m, d] = value.split('-').map(Number);
    return new Date(y, m - 1, d + plus).toISOString(); // local midnight, as the user means it
  };
  if ($('f-from').value) f.from = day($('f-from').value, 0);
  if ($('f-to').value) f.to = day($('f-to').value, 1);
  if ($('f-number').value.trim()) f.number = $('f-number').value.trim();
  if ($('f-direction').value) f.direction = $('f-direction').value;
  if ($('f-decision').value) f.decision = $('f-decision').value;
  return f;
}

async function loadJournal(reset) {
  const params = new URLSearchParams({ ...state.filter, limit: String(PAGE) });
  if (!reset && state.next) params.set('cursor', state.next);
  $('journal-error').textContent = '';
  try {
    const { status, data } = await api(`/api/recordings?${params}`);
    if (status !== 200) throw new Error(data?.message ?? String(status));
    state.rows = reset ? data.rows : [...state.rows, ...data.rows];
    state.next = data.next;
    if (reset) $('new-note').hidden = true;
    renderRows();
  } catch (err) {
    if (state.me) $('journal-error').textContent = `${t('loadFailed')} ${err.message}`;
  }
}

function partyText(p) {
  return p.name ? `${p.name} (${p.number})` : p.number;
}

function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(h ? 2 : 1, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function renderRows() {
  const body = $('rows');
  body.replaceChildren();
  const locale = state.lang === 'de' ? 'de-DE' : 'en-GB';
  for (const row of state.rows) {
    const start = new Date(row.start);
    const party = row.own ? partyText(row.peer) : `${partyText(row.caller)} → ${partyText(row.callee)}`;
    const rec = el('span', { class: `rec rec-${row.decision}`, title: t(row.decision), text: `● ${t('rec')}` });
    // Compliance marks (mitschnitt hold / verify): kept beyond retention; checked unaltered, or a failed check.
    const marks = [];
    if (row.held) marks.push(el('span', { class: 'mark held', title: t('heldTitle'), text: `§ ${t('held')}` }));
    if (row.objectedAt) {
      const when = new Date(row.objectedAt).toLocaleString(locale);
      marks.push(el('span', { class: 'mark objected', title: `${t(row.audioDiscarded ? 'objectedDiscardedTitle' : 'objectedTitle')} ${when}`, text: `✋ ${t('objected')}` }));
    }
    if (row.verifiedAt) {
      const when = new Date(row.verifiedAt).toLocaleString(locale);
      marks.push(row.verified
        ? el('span', { class: 'mark verified', title: `${t('verifiedTitle')} ${when}`, text: `✓ ${t('verified')}` })
        : el('span', { class: 'mark verify-failed', title: `${t('verifyFailedTitle')} ${when}`, text: `⚠ ${t('verifyFailed')}` }));
    }
    const playButton = el('button', {
      type: 'button',
      class: 'icon',
      'aria-label': `${t('play')}: ${party}, ${start.toLocaleString(locale)}`,
      text: `▶ ${t('play')}`,
      onclick: () => playRecording(row, party, start, locale),
    });
    const download = el('a', {
      class: 'icon button-like',
      href: `/api/recordings/${encodeURIComponent(row.id)}/download`,
      download: '',
      'aria-label': `${t('download')}: ${party}, ${start.toLocaleString(locale)}`,
      text: `⤓ ${t('download')}`,
    });
    body.append(
      el(
        'tr',
        { 'data-id': row.id },
        el('td', { 'data-label': t('date'), text: start.toLocaleDateString(locale) }),
        el('td', { 'data-label': t('time'), text: start.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' }) }),
        el('td', { 'data-label': t('party'), class: 'party', text: party }),
        el('td', { 'data-label': t('direction'), text: `${row.direction === 'inbound' ? '↙' : '↗'} ${t(row.direction)}` }),
        el('td', { 'data-label': t('duration'), class: 'num', text: duration(row.durationSeconds) }),
        el('td', { 'data-label': t('recording') }, rec, ...marks),
        el('td', { 'data-label': t('rule'), text: row.ruleName ?? row.rule ?? `(${t(row.decision)})` }),
        // Discarded after the caller objected: there is no audio to play or fetch.
        el('td', { class: 'actions' }, el('div', { class: 'action-buttons' }, ...(row.audioDiscarded ? [] : [playButton, download]))),
      ),
    );
  }
  $('empty').hidden = state.rows.length > 0;
  $('more').hidden = !state.next;
}

function playRecording(row, party, start, locale) {
  const audio = $('audio');
  $('player').hidden = false;
  $('now-playing').textContent = `${t('playing')} ${party}, ${start.toLocaleString(locale)}`;
  audio.src = `/api/recordings/${encodeURIComponent(row.id)}/audio`;
  audio.play().catch(() => {}); // a browser may refuse autoplay: the controls are there
  audio.focus();
}

// ---- active calls --------------------------------------------------------------------------------------------

async function loadCalls() {
  try {
    const { status, data } = await api('/api/calls');
    if (status === 200) {
      state.calls = data.calls;
      renderCalls();
    }
  } catch {
    /* signed out: handled by api() */
  }
}

function tickDurations() {
  for (const node of document.querySelectorAll('[data-since]')) {
    node.textContent = duration((Date.now() - Date.parse(node.dataset.since)) / 1000);
  }
}

async function control(call, action) {
  $('call-error').textContent = '';
  const { status, data } = await api(`/api/calls/${encodeURIComponent(call.id)}/record`, { method: 'POST', body: { action } }).catch(
    (err) => ({ status: 0, data: { message: err.message } }),
  );
  if (status === 200) Object.assign(call, data);
  else $('call-error').textContent = `${t('failed')} ${data?.message ?? status}`;
  renderCalls();
  loadCalls();
}

function renderCalls() {
  const list = $('calls');
  const focused = document.activeElement?.dataset?.control;
  list.replaceChildren();
  for (const call of state.calls) {
    const status = call.recording ? (call.paused ? 'recording_paused' : 'recording_on') : 'recording_off';
    const controls = el('div', { class: 'controls' });
    if (call.manualAllowed) {
      controls.append(
        el('button', {
          type: 'button',
          class: `record ${call.recording ? 'on' : ''}`,
          'aria-pressed': String(call.recording),
          'data-control': `${call.id}:record`,
          text: `● ${t(call.recording ? 'stopRec' : 'startRec')}`,
          onclick: () => control(call, call.recording ? 'stop' : 'start'),
        }),
      );
      if (call.recording) {
        controls.append(
          el('button', {
            type: 'button',
            class: 'secondary',
            'aria-pressed': String(call.paused),
            'data-control': `${call.id}:pause`,
            text: t(call.paused ? 'resume' : 'pause'),
            onclick: () => control(call, call.paused ? 'resume' : 'pause'),
          }),
        );
      }
    } else {
      controls.append(el('span', { class: 'muted', text: t('noManual') }));
    }
    list.append(
      el(
        'li',
        { class: `call ${status}`, 'data-call': call.id },
        el('span', { class: 'call-party', text: `${call.direction === 'inbound' ? '↙' : '↗'} ${partyText(call.peer)}` }),
        el('span', { class: 'num', 'data-since': call.startedAt, text: duration((Date.now() - Date.parse(call.startedAt)) / 1000) }),
        el('span', { class: 'call-state', role: 'status', text: t(status) }),
        controls,
      ),
    );
  }
  $('no-calls').hidden = state.calls.length > 0;
  if (focused) document.querySelector(`[data-control="${CSS.escape(focused)}"]`)?.focus();
}

// ---- start ---------------------------------------------------------------------------------------------------

function start() {
  state.lang = pickLanguage(localStorage.getItem('mitschnitt.lang'), navigator.languages ?? [navigator.language]);
  applyLanguage();
  $('lang').addEventListener('change', () => {
    state.lang = $('lang').value;
    localStorage.setItem('mitschnitt.lang', state.lang);
    applyLanguage();
  });
  $('login-form').addEventListener('submit', onLogin);
  $('logout').addEventListener('click', onLogout);
  $('filters').addEventListener('submit', (e) => {
    e.preventDefault();
    state.filter = readFilter();
    loadJournal(true);
  });
  $('filters').addEventListener('reset', () => {
    state.filter = {};
    setTimeout(() => loadJournal(true));
  });
  $('more').addEventListener('click', () => loadJournal(false));
  $('new-note').addEventListener('click', () => loadJournal(true));
  api('/api/session')
    .then(({ status, data }) => (status === 200 && data.signedIn ? signedIn(data) : signedOut()))
    .catch(() => {});
}

start();
