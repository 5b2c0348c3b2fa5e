// Agent panel: the call the signed-in agent is on, or (?call=ID) one call watched by a
// supervisor/QA user.  The state per call is in agent-state.js; the rendering in
// agent-call.js (header, transcript), agent-alerts.js (strip, supervisors' messages) and
// agent-cards.js (emotion, strategy, suggestions).
//
// Focus rule: the newest live call is shown; a call that starts takes focus (also on a
// fresh sign-in); ended calls collapse into the "Earlier calls" list, from which the agent
// may open one (it stays open until the next call starts).  With no live call, the last
// one stays on screen marked as ended (wrap-up).
import * as CA from './common.js';
import * as KB from './kb.js';
import { renderAlerts, renderSupMsg } from './agent-alerts.js';
import { Transcript, expirePartialMarks, renderHead, tickDuration } from './agent-call.js';
import { renderEmotion, renderStrategy, renderSuggestions } from './agent-cards.js';
import { Sound, applyUpdate, byNewest, viewFrom } from './agent-state.js';

const { t, el, clear } = CA;
CA.initChrome();
const user = await CA.requireUser();
const params = new URLSearchParams(location.search);
const watchId = params.get('call');
const isAgentView = !watchId; // the agent's own calls (acks, raise hand) vs a watcher's view
const canWhisper = !!watchId && user.role === 'supervisor';

const calls = new Map(); // call_id -> view
let active = null;
let pinned = null; // an ended call opened from the history list
let watchState = ''; // '' | 'pending' | 'not_found' (?call= only)
let renderQueued = false;
let rebuild = true; // active call changed: rebuild the transcript DOM
const transcript = new Transcript(document.getElementById('transcript'));
const debug = { calls, user, beeps: 0, sent: [] };
window.__ca = debug; // for debugging in the console and the browser tests
const ctx = { isAgentView, act };

const sound = new Sound(debug);
const soundBtn = document.getElementById('sound');
function renderSound() {
  soundBtn.textContent = sound.on ? t('sound_on') : t('sound_off');
  soundBtn.setAttribute('aria-pressed', String(sound.on));
}
soundBtn.addEventListener('click', () => { sound.toggle(); renderSound(); });

function liveCalls() { return [...calls.values()].filter((v) => v.meta.status === 'live').sort(byNewest); }
function endedCalls() { return [...calls.values()].filter((v) => v.meta.status !== 'live').sort(byNewest); }

function pickActive() {
  const before = active;
  if (watchId) {
    active = calls.has(watchId) ? watchId : null;
  } else {
    if (pinned && !calls.has(pinned)) pinned = null;
    const live = liveCalls();
    active = pinned || (live[0] || endedCalls()[0] || { meta: {} }).meta.call_id || null;
  }
  if (active !== before) rebuild = true;
}

function onAlert(view, severity) { if (view.meta.call_id === active) sound.beep(severity); }

function onMessage(msg) {
  if (msg.type === 'snapshot') {
    const isNew = !calls.has(msg.call.call_id);
    calls.set(msg.call.call_id, viewFrom(msg.call));
    watchState = '';
    if (isNew && msg.call.status === 'live') pinned = null; // a call that starts takes focus
    if (msg.call.call_id === active) rebuild = true;
  } else if (msg.type === 'update') {
    const view = calls.get(msg.call_id);
    if (!view || msg.v <= view.v) return; // older than the snapshot we hold
    applyUpdate(view, msg, onAlert); view.v = msg.v;
  } else if (msg.type === 'removed') {
    calls.delete(msg.call_id);
  } else if (msg.type === 'error' && msg.error === 'not_found' && !msg.op) {
    watchState = 'not_found';
  } else if (msg.type === 'pending') {
    watchState = 'pending';
    lookUpStored();
  } else if (msg.type === 'error' && msg.op) {
    actionStatus(t(msg.error === 'not_stored' ? 'not_stored' : 'action_failed', { msg: msg.error }), true);
    return;
  } else if (msg.type === 'action_ok') {
    actionStatus(msg.op === 'whisper' ? t('sent') : '', false);
    return;
  } else { return; }
  pickActive();
  schedule();
}

// ?call= for a call that is not live: say so, and offer its QA review when it is stored
let storedLink = null;
async function lookUpStored() {
  if (!CA.QA_READERS.includes(user.role) || storedLink !== null) return;
  storedLink = false;
  const r = await CA.api('/api/qa/calls/' + encodeURIComponent(watchId));
  storedLink = r.ok;
  schedule();
}

function schedule() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; render(); });
}

// -- rendering -----------------------------------------------------------------------
function render() {
  const notice = document.getElementById('notice');
  const panel = document.getElementById('panel');
  const head = document.getElementById('callhead');
  renderHistory();
  renderSound();
  const view = active && calls.get(active);
  document.getElementById('whisper').hidden = !(canWhisper && view && view.meta.status === 'live');
  if (!view) {
    panel.hidden = true; head.hidden = true; notice.hidden = false;
    document.getElementById('backlive').hidden = true;
    renderAlerts(null, ctx); renderSupMsg(null);
    clear(notice).className = 'notice' + (watchState === 'not_found' ? ' notice-error' : '');
    if (!watchId) notice.append(t('no_calls'));
    else if (watchState === 'not_found') notice.append(t('call_not_available'));
    else if (watchState === 'pending') {
      notice.append(t('unknown_call', { id: watchId }));
      if (storedLink) notice.append(' ', el('a', { href: '/qa/call?id=' + encodeURIComponent(watchId) }, t('unknown_call_qa')));
    } else notice.append(t('waiting_call'));
    document.title = 'callassist · ' + t('nav_agent');
    return;
  }
  const live = view.meta.status === 'live';
  notice.hidden = live || !isAgentView || liveCalls().length > 0;
  notice.className = 'notice';
  notice.textContent = t('no_live_now');
  renderBackToLive(view);
  panel.hidden = false; head.hidden = false;
  document.title = (live ? '● ' + t('live') + ' · ' : '') + 'callassist · ' + t('nav_agent');
  renderHead(view, ctx);
  transcript.render(view, rebuild);
  rebuild = false;
  renderEmotion(view);
  renderStrategy(view);
  renderAlerts(view, ctx);
  renderSupMsg(view);
  renderSuggestions(view);
  view.flash.clear();
}

function renderBackToLive(view) {
  const box = clear(document.getElementById('backlive'));
  const live = liveCalls();
  box.hidden = !(isAgentView && view.meta.status !== 'live' && live.length);
  if (box.hidden) return;
  box.append(t('viewing_ended'), ' ', el('button', {
    type: 'button', className: 'primary small', onclick: () => { pinned = null; pickActive(); schedule(); },
  }, t('back_to_live')));
}

function renderHistory() {
  const box = document.getElementById('history');
  const ended = isAgentView ? endedCalls() : [];
  box.hidden = !ended.length;
  if (!ended.length) return;
  document.getElementById('historyhead').textContent = t('history', { n: ended.length });
  const list = clear(document.getElementById('historylist'));
  ended.forEach((v) => {
    const m = v.meta;
    list.append(el('li', {}, el('button', {
      type: 'button', className: 'history-item' + (m.call_id === active ? ' active' : ''), dataset: { call: m.call_id },
      onclick: () => { pinned = m.call_id; pickActive(); schedule(); },
    },
    el('span', { className: 'status status-ended' }, t('ended')),
    el('strong', { className: 'call-id' }, m.call_id),
    el('span', { className: 'muted' }, m.customer_id || ''),
    el('span', { className: 'muted' }, t('ended_at'), ' ', CA.timeOf(m.ended_at)),
    el('span', { className: 'muted' }, CA.duration(m.duration)),
    v.alerts.size ? el('span', { className: 'muted' }, t('n_alerts', { n: v.alerts.size })) : null)));
  });
}

// -- live actions over the socket ---------------------------------------------------------
function act(op) { debug.sent.push(op.op); sock.send(op); }
function actionStatus(text, isError) {
  const n = document.querySelector('#whisper .form-status');
  if (n) { n.textContent = text; n.classList.toggle('error', !!isError); }
  if (isError) schedule(); // re-enable an ack button that failed
}
const whisperForm = document.getElementById('whisper');
whisperForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = whisperForm.querySelector('input[name=text]');
  if (!input.value.trim() || !active) return;
  act({ op: 'whisper', call_id: active, text: input.value.trim() });
  input.value = '';
});
document.getElementById('helpbtn').addEventListener('click', () => {
  if (active) act({ op: 'whisper', call_id: active, help: true });
});

setInterval(tickDuration, 1000);
setInterval(expirePartialMarks, 1000);
KB.initSearch(document.getElementById('kbsearch'));
CA.onLang(() => { rebuild = true; schedule(); });
const sock = new CA.LiveSocket(onMessage, CA.connStatus);
if (watchId) sock.resubscribe.push({ op: 'watch', call_id: watchId });
sock.connect();
schedule();
