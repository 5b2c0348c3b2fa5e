// Agent panel: the live call(s) of the signed-in agent, or (?call=ID) one call watched by a
// supervisor/QA user.  State per call mirrors the server's live view: segments keyed by
// segment_id (a final replaces its partials), alerts/suggestions keyed by id, newest emotion.
'use strict';
(async () => {
  const { t, el, clear } = CA;
  CA.initChrome();
  const user = await CA.requireUser();
  const params = new URLSearchParams(location.search);
  const watchId = params.get('call');

  const calls = new Map(); // call_id -> view
  let active = null;
  let notFound = false;
  let renderQueued = false;
  let rebuild = true; // active call changed: rebuild the transcript DOM
  const segNodes = new Map(); // segment_id -> <li> for the active call

  function viewFrom(snap) {
    const v = {
      meta: snap, v: snap.v, segments: new Map(), alerts: new Map(), suggestions: new Map(),
      emotion: Object.assign({}, snap.emotion || {}), flash: new Set(),
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
    } else if (msg.kind === 'suggestion') {
      view.suggestions.set(item.suggestion_id, item); view.flash.add(item.suggestion_id);
    } else if (msg.kind === 'emotion') {
      const cur = view.emotion[item.channel];
      if (!cur || (item.at || 0) >= (cur.at || 0)) view.emotion[item.channel] = item;
    } else if (msg.kind === 'call') {
      Object.assign(view.meta, item);
    }
  }

  function pickActive() {
    if (watchId) { active = calls.has(watchId) ? watchId : null; return; }
    if (active && calls.has(active)) return;
    const list = [...calls.values()].sort((a, b) =>
      (a.meta.status === 'live' ? 0 : 1) - (b.meta.status === 'live' ? 0 : 1) || b.meta.started_at - a.meta.started_at);
    active = list.length ? list[0].meta.call_id : null;
    rebuild = true;
  }

  function onMessage(msg) {
    if (msg.type === 'snapshot') {
      calls.set(msg.call.call_id, viewFrom(msg.call));
      notFound = false;
      if (msg.call.call_id === active) rebuild = true;
      pickActive();
    } else if (msg.type === 'update') {
      const view = calls.get(msg.call_id);
      if (!view || msg.v <= view.v) return; // older than the snapshot we hold
      applyUpdate(view, msg); view.v = msg.v;
    } else if (msg.type === 'removed') {
      calls.delete(msg.call_id);
      if (active === msg.call_id) { active = null; rebuild = true; }
      pickActive();
    } else if (msg.type === 'error' && msg.error === 'not_found') {
      notFound = true;
    } else if (msg.type === 'pending') {
      notFound = false;
    } else { return; }
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
    renderTabs();
    const view = active && calls.get(active);
    if (!view) {
      panel.hidden = true; head.hidden = true; notice.hidden = false;
      notice.textContent = watchId ? (notFound ? t('call_not_available') : t('waiting_call')) : t('no_calls');
      notice.className = 'notice' + (notFound ? ' notice-error' : '');
      return;
    }
    notice.hidden = true; panel.hidden = false; head.hidden = false;
    renderHead(view);
    renderTranscript(view);
    renderEmotion(view);
    renderStrategy(view);
    renderAlerts(view);
    renderSuggestions(view);
    view.flash.clear();
  }

  function renderTabs() {
    const tabs = clear(document.getElementById('tabs'));
    if (watchId || calls.size < 2) return;
    for (const v of calls.values()) {
      const id = v.meta.call_id;
      tabs.append(el('button', {
        type: 'button', className: 'tab' + (id === active ? ' active' : ''),
        onclick: () => { active = id; rebuild = true; schedule(); },
      }, id, v.meta.status === 'ended' ? ' · ' + t('ended') : ''));
    }
  }

  function renderHead(view) {
    const m = view.meta;
    const head = clear(document.getElementById('callhead'));
    head.append(
      el('span', { className: 'status status-' + CA.cssToken(m.status) }, m.status === 'live' ? t('live') : t('ended')),
      el('strong', { className: 'call-id' }, m.call_id),
      field(t('customer_id'), m.customer_id || '—'),
      field(t('queue'), m.queue || '—'),
      field(t('language'), m.language || '—'),
      field(t('duration'), el('span', { id: 'duration', dataset: { start: m.started_at, end: m.ended_at || '' } }, '')),
    );
    tickDuration();
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
    box.append(
      el('div', { className: 'emotion-state state-' + CA.cssToken(e.state) },
        el('span', { className: 'state-label' }, CA.stateLabel(e.state)),
        el('span', { className: 'trend trend-' + CA.cssToken(e.trend), title: t('trend_' + (e.trend || 'steady')) },
          CA.trendArrow(e.trend), ' ', t('trend_' + (e.trend || 'steady')))),
      el('div', { className: 'meter', title: t('arousal') + ' ' + pct + '%' },
        el('div', { className: 'meter-fill' })),
      el('div', { className: 'meter-label muted' }, t('arousal') + ' ' + pct + '%'));
    if ((e.hints || []).length) box.append(el('ul', { className: 'hints' }, e.hints.map((h) => el('li', {}, h))));
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

  function renderAlerts(view) {
    const list = clear(document.getElementById('alerts'));
    const alerts = [...view.alerts.values()].sort((a, b) =>
      (CA.SEV_RANK[b.severity] || 0) - (CA.SEV_RANK[a.severity] || 0) || (b.produced_at || 0) - (a.produced_at || 0));
    if (!alerts.length) { list.append(el('li', { className: 'muted' }, t('no_alerts'))); return; }
    alerts.forEach((a) => list.append(el('li', {
      className: 'alert sev-' + CA.cssToken(a.severity) + (view.flash.has(a.alert_id) ? ' flash' : '')
        + (a.retracted ? ' retracted' : ''),
      dataset: { alert: a.alert_id },
    },
    el('span', { className: 'sev-badge' }, CA.sevLabel(a.severity)),
    a.status === 'check' ? el('span', { className: 'check-badge' }, t('check_badge')) : null, alertStateBadge(a),
    el('span', { className: 'alert-msg' }, a.message),
    a.evidence ? el('q', { className: 'evidence' }, a.evidence) : null,
    el('span', { className: 'rule muted' }, a.rule_id), whyDetails(a.why))));
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
      s.evidence ? el('q', { className: 'evidence muted' }, s.evidence) : null, whyDetails(s.why)));
    });
  }

  CA.onLang(() => { rebuild = true; schedule(); });
  const sock = new CA.LiveSocket(onMessage, CA.connStatus);
  if (watchId) sock.resubscribe.push({ op: 'watch', call_id: watchId });
  sock.connect();
  schedule();
  window.__ca = { calls, user }; // for debugging in the console and the browser tests
})();
