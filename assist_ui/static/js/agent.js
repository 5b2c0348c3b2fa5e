// Agent panel: the call the signed-in agent is on, or (?call=ID) one call watched by a
// supervisor/QA user.  State per call mirrors the server's live view: segments keyed by
// segment_id (a final replaces its partials), alerts/suggestions keyed by id, newest emotion,
// and the call's live actions (acks, whispers, raised hand).
//
// Focus rule: the newest live call is shown; a call that starts takes focus (also on a
// fresh sign-in); ended calls collapse into the "Earlier calls" list, from which the agent
// may open one (it stays open until the next call starts).  With no live call, the last
// one stays on screen marked as ended (wrap-up).
'use strict';
(async () => {
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
  const segNodes = new Map(); // segment_id -> <li> for the active call
  const debug = { calls, user, beeps: 0, sent: [] };
  window.__ca = debug; // for debugging in the console and the browser tests

  // -- sound (optional, off by default, remembered per browser) ---------------------------
  let soundOn = localStorage.getItem('ca.sound') === 'on';
  let audio = null;
  function beep(severity) {
    if (!soundOn) return;
    debug.beeps += 1;
    try {
      audio = audio || new AudioContext();
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = (CA.SEV_RANK[severity] || 1) >= 3 ? 880 : 620;
      gain.gain.value = 0.08;
      osc.connect(gain).connect(audio.destination);
      osc.start(); osc.stop(audio.currentTime + 0.25);
    } catch (e) { /* no audio device: the strip is the cue */ }
  }
  const soundBtn = document.getElementById('sound');
  function renderSound() {
    soundBtn.textContent = soundOn ? t('sound_on') : t('sound_off');
    soundBtn.setAttribute('aria-pressed', String(soundOn));
  }
  soundBtn.addEventListener('click', () => {
    soundOn = !soundOn;
    localStorage.setItem('ca.sound', soundOn ? 'on' : 'off');
    if (soundOn && !audio) { try { audio = new AudioContext(); } catch (e) { audio = null; } } // needs this click
    renderSound();
  });

  function viewFrom(snap) {
    const v = {
      meta: snap, v: snap.v, segments: new Map(), alerts: new Map(), suggestions: new Map(),
      emotion: Object.assign({}, snap.emotion || {}), actions: snap.actions || {}, flash: new Set(),
    };
    (snap.segments || []).forEach((s) => v.segments.set(s.segment_id, s));
    (snap.alerts || []).forEach((a) => v.alerts.set(a.alert_id, a));
    (snap.suggestions || []).forEach((s) => v.suggestions.set(s.suggestion_id, s));
    return v;
  }

  function applyUpdate(view, msg) {
    const item = msg.item;
    if (msg.kind === 'segment') {
      const old = view.segments.get(item.segment_id);
      if (old && old.is_final) return;
      view.segments.set(item.segment_id, item);
      view.changedSeg = (view.changedSeg || new Set()).add(item.segment_id);
    } else if (msg.kind === 'alert') {
      view.alerts.set(item.alert_id, item); view.flash.add(item.alert_id);
      if (view.meta.call_id === active) beep(item.severity);
    } else if (msg.kind === 'suggestion') {
      view.suggestions.set(item.suggestion_id, item); view.flash.add(item.suggestion_id);
    } else if (msg.kind === 'emotion') {
      const cur = view.emotion[item.channel];
      if (!cur || (item.at || 0) >= (cur.at || 0)) view.emotion[item.channel] = item;
    } else if (msg.kind === 'call') {
      Object.assign(view.meta, item);
    } else if (msg.kind === 'action') {
      view.actions = item.actions || {};
      if (item.action && (item.action.kind === 'whisper' || item.action.kind === 'help')) view.flash.add('supmsg');
    }
  }

  function byNewest(a, b) { return (b.meta.started_at || 0) - (a.meta.started_at || 0); }
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
      applyUpdate(view, msg); view.v = msg.v;
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
    if (!['qa', 'supervisor'].includes(user.role) || storedLink !== null) return;
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
      renderAlerts(null); renderSupMsg(null);
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
    renderHead(view);
    renderTranscript(view);
    renderEmotion(view);
    renderStrategy(view);
    renderAlerts(view);
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

  function renderHead(view) {
    const m = view.meta;
    const live = m.status === 'live';
    const head = clear(document.getElementById('callhead'));
    head.classList.toggle('ended', !live);
    head.append(
      el('span', { className: 'status status-' + CA.cssToken(m.status) + (live ? ' live-marker' : '') },
        live ? t('live') : t('ended')),
      ...(live && m.call_state && m.call_state !== 'active'
        ? [el('span', { className: 'call-state call-state-' + CA.cssToken(m.call_state) }, t('call_state_' + m.call_state))] : []),
      el('strong', { className: 'call-id' }, m.call_id),
      field(t('customer_id'), [(m.context || {}).customer_name, m.customer_id].filter(Boolean).join(' · ') || '—'),
      ...contextFields(m.context || {}),
      field(t('queue'), CA.queueLabel(m.queue) || '—'),
      field(t('language'), CA.langLabel(m.language) || '—'),
      field(t('duration'), el('span', { id: 'duration', dataset: { start: m.started_at, end: m.ended_at || '' } }, '')),
      ...(live ? [] : [el('span', { className: 'wrapup' }, t('wrapup'))]),
      ...(isAgentView && live ? [handButton(view)] : []));
    tickDuration();
  }

  // call context from the platform (CallEvent.context); masked by the server for non-agents
  function contextFields(ctx) {
    return ['customer_tier', 'account_ref', 'policy_ref', 'ivr_intent'].filter((k) => ctx[k])
      .map((k) => el('span', { className: 'field ctx ctx-' + k }, el('span', { className: 'label' }, t('ctx_' + k)), ' ', el('span', { className: 'ctx-value' }, ctx[k])));
  }

  function handButton(view) {
    const hand = view.actions.hand;
    if (hand) {
      return el('span', { className: 'hand-raised' }, t('hand_raised'), ' ',
        el('button', { type: 'button', className: 'small', id: 'lowerhand',
          onclick: () => act({ op: 'lower_hand', call_id: view.meta.call_id }) }, t('lower_hand')));
    }
    return el('button', { type: 'button', className: 'small raise-hand', id: 'raisehand',
      onclick: () => act({ op: 'raise_hand', call_id: view.meta.call_id }) }, t('raise_hand'));
  }

  function field(label, value) {
    return el('span', { className: 'field' }, el('span', { className: 'label' }, label), ' ', value);
  }

  function tickDuration() {
    const n = document.getElementById('duration');
    if (!n) return;
    const start = Number(n.dataset.start) || 0;
    const end = Number(n.dataset.end) || Date.now() / 1000;
    n.textContent = start ? CA.duration(end - start) : '—';
  }
  setInterval(tickDuration, 1000);

  // Partials (issue 20): committed words (the first stable_len characters, which the ASR will
  // not rewrite) in normal text, only the unstable tail in grey; "speaking…" goes once a
  // channel's audio stopped (no newer partial or final for PARTIAL_STALE_MS).
  const PARTIAL_STALE_MS = 4000;
  function segText(s) {
    const text = s.text || '';
    const n = s.is_final ? text.length : Math.max(0, Math.min(Number(s.stable_len) || 0, text.length));
    return el('span', { className: 'seg-text' }, text.slice(0, n),
      n < text.length ? el('span', { className: 'seg-tail' }, text.slice(n)) : null);
  }
  setInterval(() => document.querySelectorAll('#transcript .seg.partial .partial-mark').forEach((m) => {
    if (Date.now() - Number(m.parentElement.dataset.seen) > PARTIAL_STALE_MS) m.remove();
  }), 1000);
  // an alert from partial text is "provisional" until its final confirms it, or "retracted"
  function alertStateBadge(a) {
    if (a.retracted) return el('span', { className: 'state-badge retracted' }, t('alert_retracted'));
    return a.provisional ? el('span', { className: 'state-badge provisional' }, t('alert_provisional')) : null;
  }

  function segNode(s) {
    const li = el('li', { className: 'seg seg-' + CA.cssToken(s.channel) + (s.is_final ? ' final' : ' partial') },
      el('span', { className: 'seg-time' }, CA.clock(s.start)),
      el('span', { className: 'speaker' }, s.channel === 'agent' ? t('agent') : s.channel === 'customer' ? t('customer') : s.channel),
      segText(s),
      s.is_final ? null : el('span', { className: 'partial-mark' }, t('partial')));
    li.dataset.seen = Date.now();
    li.dataset.start = s.start;
    li.dataset.segment = s.segment_id;
    return li;
  }

  function renderTranscript(view) {
    const list = document.getElementById('transcript');
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    if (rebuild) {
      clear(list); segNodes.clear();
      const segs = [...view.segments.values()].sort((a, b) => a.start - b.start);
      segs.forEach((s) => { const li = segNode(s); segNodes.set(s.segment_id, li); list.append(li); });
      rebuild = false; view.changedSeg = null;
    } else if (view.changedSeg) {
      for (const id of view.changedSeg) {
        const s = view.segments.get(id);
        const li = segNode(s);
        const old = segNodes.get(id);
        if (old) { old.replaceWith(li); } else {
          // insert by start time; new speech almost always goes last
          let after = list.lastElementChild;
          while (after && Number(after.dataset.start) > s.start) after = after.previousElementSibling;
          if (after) after.after(li); else list.prepend(li);
        }
        segNodes.set(id, li);
      }
      view.changedSeg = null;
    }
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function renderEmotion(view) {
    const box = clear(document.getElementById('emotion'));
    const e = view.emotion.customer || Object.values(view.emotion)[0];
    if (!e) { box.append(el('p', { className: 'muted' }, '—')); return; }
    const pct = Math.round(100 * Math.max(0, Math.min(1, e.arousal || 0)));
    const shown = e.customer_state || e.state;  // voice fused with the customer's words (streams)
    box.append(
      el('div', { className: 'emotion-state state-' + CA.cssToken(shown) },
        el('span', { className: 'state-label' }, CA.stateLabel(shown)),
        el('span', { className: 'trend trend-' + CA.cssToken(e.trend), title: t('trend_' + (e.trend || 'steady')) },
          CA.trendArrow(e.trend), ' ', t('trend_' + (e.trend || 'steady')))),
      el('div', { className: 'meter', title: t('arousal') + ' ' + pct + '%' },
        el('div', { className: 'meter-fill' })),
      el('div', { className: 'meter-label muted' }, t('arousal') + ' ' + pct + '%'));
    if ((e.reasons || []).length) box.append(el('p', { className: 'reasons muted' }, e.reasons.join(' · ')));
    const hints = (view.emotion.agent || {}).hints || [];  // delivery hints are about the agent's own channel
    if (hints.length) box.append(el('ul', { className: 'hints' }, hints.map((h) => el('li', {}, h))));
    // width via CSSOM (style attributes are blocked by the CSP)
    box.querySelector('.meter-fill').style.width = pct + '%';
  }

  function latest(map, pred) {
    return [...map.values()].filter(pred).sort((a, b) => (b.produced_at || 0) - (a.produced_at || 0));
  }

  function renderStrategy(view) {
    const box = clear(document.getElementById('strategy'));
    const s = latest(view.suggestions, (x) => x.kind === 'strategy')[0];
    if (!s) { box.append(el('p', { className: 'muted' }, t('no_strategy'))); return; }
    box.append(el('div', { className: 'strategy' + (view.flash.has(s.suggestion_id) ? ' flash' : '') },
      el('strong', {}, s.title), el('p', {}, s.text), copyButton(s.text), whyDetails(s.why)));
  }

  // why a suggestion, strategy or alert fired (matched terms, intent, confidence), on demand
  function whyDetails(why) {
    return why ? el('details', { className: 'why muted', onclick: (ev) => ev.stopPropagation() },
      el('summary', {}, t('why')), why) : null;
  }

  // The strip: every alert of the shown call, most severe first, unacknowledged before
  // acknowledged within a severity, newest first; it never scrolls out of view (CSS sticky).
  function renderAlerts(view) {
    const list = clear(document.getElementById('alerts'));
    const count = document.getElementById('alertcount');
    const strip = document.getElementById('strip');
    if (!view) { strip.hidden = true; return; }
    strip.hidden = false;
    const acks = (view.actions && view.actions.acks) || {};
    const alerts = [...view.alerts.values()].sort((a, b) =>
      (CA.SEV_RANK[b.severity] || 0) - (CA.SEV_RANK[a.severity] || 0) ||
      (acks[a.alert_id] ? 1 : 0) - (acks[b.alert_id] ? 1 : 0) || (b.produced_at || 0) - (a.produced_at || 0));
    const open = alerts.filter((a) => !acks[a.alert_id] && !a.retracted);
    const worst = open[0] ? open[0].severity : '';
    strip.className = 'alert-strip' + (worst ? ' has-open strip-' + CA.cssToken(worst) : '');
    count.textContent = alerts.length ? t('alert_count', { n: alerts.length, u: open.length }) : t('alert_count_none');
    alerts.forEach((a) => {
      const ack = acks[a.alert_id];
      list.append(el('li', {
        className: 'alert sev-' + CA.cssToken(a.severity) + (ack ? ' acked' : '') + (view.flash.has(a.alert_id) ? ' flash' : '')
          + (a.retracted ? ' retracted' : ''),
        dataset: { alert: a.alert_id },
      },
      el('span', { className: 'sev-badge' }, CA.sevLabel(a.severity)),
      a.status === 'check' ? el('span', { className: 'check-badge' }, t('check_badge')) : null, alertStateBadge(a),
      el('span', { className: 'alert-msg' }, a.message),
      a.evidence ? el('q', { className: 'evidence' }, a.evidence) : null,
      el('span', { className: 'rule muted' }, a.rule_id), whyDetails(a.why),
      ack ? el('span', { className: 'ack-state' }, t('acked_by', { who: ack.by_name || ack.by, time: CA.timeOf(ack.at) }))
        : (isAgentView && view.meta.status === 'live' ? el('button', {
          type: 'button', className: 'small ack',
          onclick: (ev) => { ev.currentTarget.disabled = true; act({ op: 'ack', call_id: view.meta.call_id, alert_id: a.alert_id }); },
        }, t('ack')) : null)));
    });
  }

  // Supervisor → agent: "help is coming" and the latest whispers, at the top with the alerts
  function renderSupMsg(view) {
    const box = clear(document.getElementById('supmsg'));
    const acts = (view && view.actions) || {};
    const messages = (acts.messages || []).filter((m) => m.kind === 'whisper' && m.text).slice(-3).reverse();
    box.hidden = !(acts.help || messages.length);
    if (box.hidden) return;
    box.classList.toggle('flash', view.flash.has('supmsg'));
    if (acts.help) box.append(el('div', { className: 'help-coming' }, t('help_coming', { who: acts.help.by_name || acts.help.by })));
    messages.forEach((m) => box.append(el('div', { className: 'whisper-msg' },
      el('span', { className: 'label' }, t('whisper_from', { who: m.by_name || m.by }), ' · ', CA.timeOf(m.at)), ' ',
      el('span', { className: 'whisper-text' }, m.text))));
  }

  function copyButton(text) {
    const b = el('button', { type: 'button', className: 'copy' }, t('copy'));
    b.addEventListener('click', async (ev) => {
      ev.stopPropagation();
      if (await CA.copyText(text)) { b.textContent = t('copied'); b.classList.add('done'); }
      setTimeout(() => { b.textContent = t('copy'); b.classList.remove('done'); }, 1500);
    });
    return b;
  }

  function renderSuggestions(view) {
    const list = clear(document.getElementById('suggestions'));
    const items = latest(view.suggestions, (x) => x.kind !== 'strategy').slice(0, 8);
    if (!items.length) { list.append(el('li', { className: 'muted' }, t('no_suggestions'))); return; }
    items.forEach((s) => {
      const btn = copyButton(s.text);
      list.append(el('li', {
        className: 'suggestion' + (view.flash.has(s.suggestion_id) ? ' flash' : ''),
        dataset: { suggestion: s.suggestion_id }, title: t('copy'), onclick: () => btn.click(),
      }, el('div', { className: 'sugg-head' }, el('strong', {}, s.title), btn),
      el('p', { className: 'sugg-text' }, s.text),
      s.evidence ? el('q', { className: 'evidence muted' }, s.evidence) : null, whyDetails(s.why),
      KB.feedbackButtons(view.meta.call_id, s)));
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

  KB.initSearch(document.getElementById('kbsearch'));
  CA.onLang(() => { rebuild = true; schedule(); });
  const sock = new CA.LiveSocket(onMessage, CA.connStatus);
  if (watchId) sock.resubscribe.push({ op: 'watch', call_id: watchId });
  sock.connect();
  schedule();
})();
