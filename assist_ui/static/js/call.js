// QA call page: the stored (redacted) call with violations highlighted in the transcript
// next to their evidence, what was suggested and where, the emotion curve, and verdicts.
// The recording plays in sync with the transcript: click a line or an alert to play from
// it, the current line follows the audio, the curve shows the playhead on the same time
// axis. Playback is audited by the server (POST …/playback) before a ticket URL is given;
// spoken personal data is replaced by a tone in what plays.
'use strict';
(async () => {
  const { t, el, clear } = CA;
  CA.initChrome();
  const user = await CA.requireUser();
  const callId = new URLSearchParams(location.search).get('id') || '';
  const notice = document.getElementById('notice');
  let data = null;
  let curveX = null; // call time → x on the emotion curve

  function fail(msg) {
    notice.hidden = false; notice.className = 'notice notice-error'; notice.textContent = msg;
  }

  async function load() {
    if (!['qa', 'supervisor'].includes(user.role)) { fail(t('forbidden')); return; }
    const r = await CA.api('/api/qa/calls/' + encodeURIComponent(callId));
    if (r.status === 404) { fail(t('not_found')); return; }
    if (!r.ok) { fail(t('error', { msg: (r.body && r.body.error) || r.status })); return; }
    data = r.body;
    render();
    const sr = await CA.api('/api/qa/calls/' + encodeURIComponent(callId) + '/summary');
    if (sr.ok) { summary = sr.body; renderSummary(); }
    const sc = await CA.api('/api/qa/calls/' + encodeURIComponent(callId) + '/scorecard');
    if (sc.ok) { card = sc.body; renderScorecard(); }
  }

  // the QA form filled automatically (assist_ui/scorecard.py); QA may override an item, the
  // automatic score stays next to it
  let card = null;
  function renderScorecard() {
    const box = clear(document.getElementById('scorecard'));
    if (!card) return;
    box.hidden = false;
    const label = (i) => i.label[CA.lang()] || i.label.en || i.id;
    const rows = card.items.map((i) => {
      const tr = el('tr', { className: 'sc-item' + (i.override ? ' overridden' : ''), dataset: { item: i.id } },
        el('td', {}, label(i), i.evidence ? el('div', { className: 'muted sc-evidence data', title: i.evidence }, i.evidence) : null),
        el('td', { className: 'sc-auto' }, `${i.auto} / ${i.weight}`),
        el('td', { className: 'sc-final' }, String(i.score),
          i.override ? el('div', { className: 'muted' }, t('sc_overridden', { who: i.override.reviewer }),
            i.override.note ? el('span', { className: 'note' }, ' · ' + i.override.note) : '') : null));
      if (user.role === 'qa') {
        const input = el('input', { type: 'number', min: '0', max: String(i.weight), step: '1', value: String(i.score),
          className: 'sc-score', 'aria-label': label(i) });
        const note = el('input', { type: 'text', maxlength: '2000', className: 'sc-note', placeholder: t('sc_note') });
        tr.append(el('td', {}, input, note, el('button', { type: 'button', className: 'small sc-save', onclick: async () => {
          const p = new URLSearchParams({ item: i.id, score: input.value, note: note.value });
          const r = await CA.api('/api/qa/calls/' + encodeURIComponent(callId) + '/scorecard?' + p, { method: 'POST' });
          if (r.ok) { card = r.body; renderScorecard(); } else { fail(t('error', { msg: (r.body && r.body.error) || r.status })); }
        } }, t('sc_save'))));
      }
      return tr;
    });
    box.append(el('h2', {}, t('scorecard_title')), el('table', { className: 'scorecard' },
      el('thead', {}, el('tr', {}, el('th', {}, t('sc_item')), el('th', {}, t('sc_auto')), el('th', {}, t('sc_final')),
        user.role === 'qa' ? el('th', {}, '') : null)),
      el('tbody', {}, rows),
      el('tfoot', {}, el('tr', {}, el('th', {}, t('sc_total')), el('td', { className: 'sc-auto-total' }, `${card.auto_total} / ${card.max}`),
        el('td', { className: 'sc-total' }, String(card.total)), user.role === 'qa' ? el('td', {}, '') : null))));
  }

  // extractive summary (assist_ui/call_summary.py), in the call's language
  let summary = null;
  function renderSummary() {
    const box = clear(document.getElementById('summary'));
    if (!summary) return;
    box.hidden = false;
    const row = (key, ...content) => el('div', { className: 'sum-row sum-' + key },
      el('span', { className: 'label' }, t('sum_' + key)), ' ', ...content);
    const quotes = (items) => (items.length ? el('ul', {}, items.map((x) => el('li', {},
      el('button', { type: 'button', className: 'small play-from', onclick: () => playFrom(x.at) }, '▶ ' + CA.clock(x.at)), ' ',
      x.labels ? el('strong', { className: 'data' }, x.labels.join(' · ') + ': ') : null,
      el('span', { className: 'data' }, '“' + x.text + '”')))) : el('span', { className: 'muted' }, t('sum_none')));
    const r = summary.reason;
    const sevs = {};
    summary.alerts.forEach((a) => { sevs[a.severity] = (sevs[a.severity] || 0) + 1; });
    const e = summary.emotion;
    box.append(el('h2', {}, t('summary_title')),
      row('reason', r.title ? el('strong', { className: 'data' }, r.title) : null,
        r.said ? el('span', { className: 'data' }, ' “' + r.said + '”') : (r.title ? '' : t('sum_none'))),
      row('asked', quotes(summary.customer_asked)),
      row('committed', quotes(summary.agent_committed)),
      row('outcome', el('strong', { className: 'data' }, summary.outcome_label)),
      row('alerts', summary.alerts.length ? CA.SEVERITIES.filter((s) => sevs[s]).map((s) => CA.sevLabel(s) + ' ' + sevs[s]).join(' · ')
        : t('sum_none')),
      row('emotion', el('span', { className: 'data' }, e.label), e.peak !== null ? ` (${e.start} → ${e.peak} → ${e.end})` : ''));
  }

  function render() {
    const c = data.call;
    document.getElementById('callhead').hidden = false;
    document.getElementById('panel').hidden = false;
    renderHead(c);
    renderPlayer();
    renderMissing(c);
    renderTranscript(c);
    renderCurve(c);
    renderAlerts(c);
    renderSuggestions(c);
    renderReviews();
    renderActions();
  }

  // what the agent and the supervisors did while the call was live (stored, audited)
  function ackOf(alertId) { return (data.actions || []).find((a) => a.kind === 'ack' && a.alert_id === alertId); }
  function renderActions() {
    const list = clear(document.getElementById('actions'));
    const acts = data.actions || [];
    if (!acts.length) { list.append(el('li', { className: 'muted' }, t('no_live_actions'))); return; }
    acts.forEach((a) => list.append(el('li', { className: 'live-action kind-' + CA.cssToken(a.kind) },
      el('span', { className: 'muted' }, CA.timeOf(a.at)), ' ', el('strong', {}, a.actor), ' ',
      el('span', { className: 'chip role-chip' }, CA.roleLabel(a.actor_role)), ' ',
      t('action_' + a.kind), a.alert_id ? ' · ' + a.alert_id : '', a.text ? el('div', { className: 'note' }, a.text) : null)));
  }

  function renderHead(c) {
    const head = clear(document.getElementById('callhead'));
    head.append(
      el('span', { className: 'risk-big level-' + CA.cssToken(levelOf(c)) }, String(Math.round(c.risk_score || 0)),
        el('small', {}, ' ' + CA.sevLabel(levelOf(c)))),
      el('strong', { className: 'call-id' }, c.call_id),
      field(t('agent'), c.agent_id || '—'), field(t('customer_id'), c.customer_id || '—'),
      field(t('queue'), CA.queueLabel(c.queue) || '—'), field(t('language'), CA.langLabel(c.language) || '—'),
      field(t('started'), CA.dateTime(c.started_at)), field(t('duration'), CA.duration(c.duration)));
    if ((c.reasons || []).length) {
      head.append(el('div', { className: 'reasons' }, el('span', { className: 'label' }, t('reasons')),
        el('ul', {}, c.reasons.map((x) => el('li', { title: x }, CA.reasonLabel(x))))));
    }
  }

  // a "required phrase missing" alert is about the whole call up to its deadline: shown once
  // at call level (evidence_end = the deadline), never under each line of that window
  const isMissing = (a) => a.rule_kind === 'required_missing';
  const alertTime = (a) => (isMissing(a) ? a.evidence_end || 0 : a.evidence_start || 0);
  const ruleName = CA.ruleName;
  function alertName(alertId) {
    const a = ((data && data.call.alerts) || []).find((x) => x.alert_id === alertId);
    return a ? ruleName(a.rule_id) : ruleName(alertId);
  }
  // the call's level is never below its worst alert (a Critical alert is never "High")
  function levelOf(c) {
    const worst = (c.alerts || []).reduce((w, a) => Math.max(w, CA.SEV_RANK[a.severity] || 0), 0);
    const own = CA.SEV_RANK[c.risk_level] || 0;
    return own >= worst ? (c.risk_level || '') : CA.SEVERITIES[4 - worst];
  }

  // -- recording ------------------------------------------------------------------------
  const audio = document.getElementById('player');
  let ticket = null; // {url} once the server audited this playback
  let playerState = 'idle'; // idle | ready | none
  async function ensureAudio() {
    if (ticket) return true;
    const r = await CA.api('/api/qa/calls/' + encodeURIComponent(callId) + '/playback', { method: 'POST' });
    if (!r.ok) { playerState = 'none'; renderPlayer(); return false; }
    ticket = r.body; playerState = 'ready';
    audio.src = ticket.url;
    renderPlayer();
    return true;
  }
  async function playFrom(sec) {
    if (!(await ensureAudio())) return;
    const seek = () => { audio.currentTime = Math.max(0, sec); audio.play().catch(() => {}); };
    if (audio.readyState >= 1) seek(); else audio.addEventListener('loadedmetadata', seek, { once: true });
  }
  function renderPlayer() {
    const box = clear(document.getElementById('playerbar'));
    box.hidden = false;
    if (playerState === 'none') { box.append(el('span', { className: 'muted' }, t('no_recording'))); return; }
    if (playerState === 'idle') {
      box.append(el('button', { type: 'button', className: 'primary', id: 'play', onclick: () => playFrom(0) }, '▶ ' + t('play_recording')));
    }
    box.append(el('span', { className: 'muted small-note' }, t('recording_redacted')));
  }
  function followAudio() {
    const now = audio.currentTime;
    let current = null;
    document.querySelectorAll('#transcript li.seg').forEach((li) => {
      const on = Number(li.dataset.start) <= now + 0.05 && now < Number(li.dataset.end) + 0.3;
      li.classList.toggle('current', on);
      if (on) current = li;
    });
    if (current && !current.dataset.seen) {
      document.querySelectorAll('#transcript li.seg[data-seen]').forEach((li) => { delete li.dataset.seen; });
      current.dataset.seen = '1';
      current.scrollIntoView({ block: 'nearest' });
    }
    const head = document.querySelector('#curve .playhead');
    if (head && curveX) { head.setAttribute('x1', curveX(now)); head.setAttribute('x2', curveX(now)); }
  }
  audio.addEventListener('timeupdate', followAudio);
  audio.addEventListener('seeked', followAudio);

  function renderMissing(c) {
    const box = clear(document.getElementById('missing'));
    const missing = (c.alerts || []).filter(isMissing);
    box.hidden = !missing.length;
    if (!missing.length) return;
    box.append(el('h2', {}, t('missing_title')), el('ul', {}, missing.map((a) => el('li', {
      className: 'missing-alert sev-' + CA.cssToken(a.severity), dataset: { alert: a.alert_id } },
    el('span', { className: 'sev-badge' }, CA.sevLabel(a.severity)), ' ', el('strong', {}, ruleName(a.rule_id)), ' — ', el('span', { className: 'data' }, a.message),
    ' ', el('span', { className: 'muted deadline' }, t('deadline_at', { t: CA.clock(a.evidence_end) })),
    ' ', playButton(a.evidence_end)))));
  }
  function playButton(sec) {
    return el('button', { type: 'button', className: 'small play-from', title: t('play_from'),
      onclick: (ev) => { ev.stopPropagation(); playFrom(sec); } }, '▶ ' + CA.clock(sec));
  }

  function field(label, value) {
    return el('span', { className: 'field' }, el('span', { className: 'label' }, label), ' ', value);
  }

  function alertsFor(seg, alerts) {
    return alerts.filter((a) => !isMissing(a)).filter((a) => (a.segment_id && a.segment_id === seg.segment_id) ||
      (!a.segment_id && a.channel === seg.channel && a.evidence_end > seg.start && a.evidence_start < seg.end));
  }

  // Split text into text nodes and <mark>s around each alert's evidence (case-insensitive).
  function highlighted(text, alerts) {
    const spans = [];
    alerts.forEach((a) => {
      if (!a.evidence) return;
      const i = text.toLowerCase().indexOf(a.evidence.toLowerCase());
      if (i >= 0 && !spans.some((s) => i < s.end && s.start < i + a.evidence.length)) {
        spans.push({ start: i, end: i + a.evidence.length, alert: a });
      }
    });
    spans.sort((x, y) => x.start - y.start);
    const out = [];
    let pos = 0;
    spans.forEach((s) => {
      out.push(text.slice(pos, s.start));
      out.push(el('mark', { className: 'sev-' + CA.cssToken(s.alert.severity), title: ruleName(s.alert.rule_id) + ': ' + s.alert.message,
        dataset: { alert: s.alert.alert_id } }, text.slice(s.start, s.end)));
      pos = s.end;
    });
    out.push(text.slice(pos));
    return out;
  }

  function renderTranscript(c) {
    const list = clear(document.getElementById('transcript'));
    const alerts = c.alerts || [];
    const suggestions = c.suggestions || [];
    const segs = (c.transcript || []).slice().sort((a, b) => a.start - b.start);
    segs.forEach((s) => {
      const hits = alertsFor(s, alerts);
      const worst = hits.reduce((w, a) => ((CA.SEV_RANK[a.severity] || 0) > (CA.SEV_RANK[w] || 0) ? a.severity : w), '');
      list.append(el('li', {
        className: 'seg seg-' + CA.cssToken(s.channel) + ' final' + (hits.length ? ' violation sev-' + CA.cssToken(worst) : ''),
        dataset: { segment: s.segment_id, start: String(s.start || 0), end: String(s.end || 0) },
        title: t('play_from'), onclick: () => playFrom(s.start || 0),
      },
      el('span', { className: 'seg-time' }, CA.clock(s.start)),
      el('span', { className: 'speaker' }, s.channel === 'agent' ? t('agent') : s.channel === 'customer' ? t('customer') : s.channel),
      el('span', { className: 'seg-text' }, highlighted(s.text || '', hits)),
      hits.length ? el('ul', { className: 'seg-alerts' }, hits.map((a) => el('li', { className: 'sev-' + CA.cssToken(a.severity) },
        el('span', { className: 'sev-badge' }, CA.sevLabel(a.severity)), ' ', el('strong', {}, ruleName(a.rule_id)), ' — ', a.message,
        a.evidence ? el('span', { className: 'muted' }, ' · ' + t('evidence') + ': “' + a.evidence + '”') : null))) : null));
      suggestions.filter((x) => x.segment_id && x.segment_id === s.segment_id).forEach((x) => {
        list.append(el('li', { className: 'inline-suggestion kind-' + CA.cssToken(x.kind) },
          el('span', { className: 'label' }, x.kind === 'strategy' ? t('strategy_hint') : t('suggested')),
          el('strong', {}, x.title), ' — ', x.text));
      });
    });
  }

  function renderCurve(c) {
    const box = clear(document.getElementById('curve'));
    const points = (c.emotion || []).filter((p) => typeof p.arousal === 'number');
    const W = 600; const H = 170; const L = 34; const B = 22; const T = 8;
    const dur = Math.max(c.duration || 0, ...points.map((p) => p.at || 0),
      ...(c.transcript || []).map((s) => s.end || 0), 1);
    const NS = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.setAttribute('class', 'curve-svg');
    svg.setAttribute('role', 'img');
    const x = (sec) => L + (W - L - 8) * (Math.min(sec, dur) / dur);
    curveX = x;
    const y = (a) => T + (H - T - B) * (1 - a);
    const add = (tag, attrs, text) => {
      const n = document.createElementNS(NS, tag);
      Object.entries(attrs).forEach(([k, v]) => n.setAttribute(k, String(v)));
      if (text !== undefined) n.textContent = text;
      svg.appendChild(n); return n;
    };
    [0, 0.5, 1].forEach((a) => {
      add('line', { x1: L, x2: W - 8, y1: y(a), y2: y(a), class: 'grid' });
      add('text', { x: L - 6, y: y(a) + 4, class: 'axis', 'text-anchor': 'end' }, a.toFixed(1));
    });
    for (let i = 0; i <= 4; i++) {
      const anchor = i === 0 ? 'start' : i === 4 ? 'end' : 'middle';
      add('text', { x: x(dur * i / 4), y: H - 6, class: 'axis', 'text-anchor': anchor }, CA.clock(dur * i / 4));
    }
    (c.alerts || []).forEach((a) => {
      const at = alertTime(a);
      const line = add('line', { x1: x(at), x2: x(at), y1: T, y2: H - B, class: 'alert-mark sev-' + CA.cssToken(a.severity),
        'data-alert': a.alert_id, 'data-at': at });
      const title = document.createElementNS(NS, 'title');
      title.textContent = CA.clock(at) + ' ' + ruleName(a.rule_id) + ': ' + a.message; line.appendChild(title);
    });
    ['customer', 'agent'].forEach((ch) => {
      const pts = points.filter((p) => p.channel === ch).sort((a, b) => a.at - b.at);
      if (!pts.length) return;
      add('polyline', { points: pts.map((p) => x(p.at).toFixed(1) + ',' + y(p.arousal).toFixed(1)).join(' '), class: 'line-' + ch });
      pts.forEach((p) => {
        const dot = add('circle', { cx: x(p.at), cy: y(p.arousal), r: 2.5, class: 'dot-' + ch });
        const title = document.createElementNS(NS, 'title');
        title.textContent = CA.clock(p.at) + ' ' + CA.stateLabel(p.state) + ' ' + Math.round(p.arousal * 100) + '%';
        dot.appendChild(title);
      });
    });
    add('line', { x1: x(0), x2: x(0), y1: T, y2: H - B, class: 'playhead' });
    svg.addEventListener('click', (ev) => {
      const box = svg.getBoundingClientRect();
      const sec = ((ev.clientX - box.left) / box.width * W - L) / (W - L - 8) * dur;
      if (sec >= 0) playFrom(Math.min(sec, dur));
    });
    const channels = ['customer', 'agent'].filter((ch) => points.some((p) => p.channel === ch));
    box.append(svg, el('div', { className: 'legend' },
      channels.map((ch) => el('span', { className: 'key key-' + ch }, t(ch)))));
    if (!points.length) box.append(el('p', { className: 'muted' }, '—'));
  }

  function reviewOf(alertId) { return (data.reviews || []).find((r) => r.alert_id === alertId); }

  function renderAlerts(c) {
    const list = clear(document.getElementById('alerts'));
    const alerts = (c.alerts || []).slice().sort((a, b) => (CA.SEV_RANK[b.severity] || 0) - (CA.SEV_RANK[a.severity] || 0));
    if (!alerts.length) { list.append(el('li', { className: 'muted' }, t('no_alerts'))); return; }
    alerts.forEach((a) => {
      const rv = reviewOf(a.alert_id);
      const li = el('li', { className: 'alert sev-' + CA.cssToken(a.severity), dataset: { alert: a.alert_id } },
        el('span', { className: 'sev-badge' }, CA.sevLabel(a.severity)),
        el('span', { className: 'alert-msg' }, a.message),
        el('span', { className: 'rule muted', title: a.rule_id }, ruleName(a.rule_id) + ' · ' +
          (isMissing(a) ? t('deadline_at', { t: CA.clock(alertTime(a)) }) : CA.clock(alertTime(a)))),
        playButton(alertTime(a)),
        a.evidence && !isMissing(a) ? el('q', { className: 'evidence' }, a.evidence) : null,
        el('span', { className: ackOf(a.alert_id) ? 'ack-state' : 'muted not-acked' }, ackOf(a.alert_id)
          ? t('acked_live', { who: ackOf(a.alert_id).actor, time: CA.timeOf(ackOf(a.alert_id).at) }) : t('not_acked')),
        el('div', { className: 'alert-verdict' },
          rv ? el('span', { className: 'chip verdict-' + CA.cssToken(rv.verdict) }, t(rv.verdict)) : null,
          user.role === 'qa' ? verdictButton(a.alert_id, 'true_positive') : null,
          user.role === 'qa' ? verdictButton(a.alert_id, 'false_positive') : null));
      li.addEventListener('mouseenter', () => highlightMarks(a.alert_id, true));
      li.addEventListener('mouseleave', () => highlightMarks(a.alert_id, false));
      list.append(li);
    });
  }

  function highlightMarks(alertId, on) {
    document.querySelectorAll('mark').forEach((m) => {
      if (m.dataset.alert === alertId) m.classList.toggle('focus', on);
    });
  }

  function verdictButton(alertId, verdict) {
    return el('button', { type: 'button', className: 'small', onclick: () => saveReview(verdict, '', alertId) }, t(verdict));
  }

  async function saveReview(verdict, note, alertId) {
    const p = new URLSearchParams({ verdict });
    if (note) p.set('note', note);
    if (alertId) p.set('alert_id', alertId);
    const r = await CA.api('/api/qa/calls/' + encodeURIComponent(callId) + '/review?' + p, { method: 'POST' });
    const status = document.querySelector('#review .form-status');
    if (!r.ok) { status.textContent = t('error', { msg: (r.body && r.body.error) || r.status }); return false; }
    data.reviews = (data.reviews || []).filter((x) => x.alert_id !== r.body.alert_id).concat([r.body]);
    renderAlerts(data.call); renderReviews();
    if (!alertId) status.textContent = t('saved');
    return true;
  }

  function renderReviews() {
    const list = clear(document.getElementById('reviews'));
    (data.reviews || []).slice().sort((a, b) => (a.alert_id ? 1 : 0) - (b.alert_id ? 1 : 0)).forEach((r) => list.append(
      el('li', { className: 'review' },
        el('span', { className: 'chip verdict-' + CA.cssToken(r.verdict) }, t(r.verdict)), ' ',
        el('strong', { title: r.alert_id }, r.alert_id ? alertName(r.alert_id) : t('call_verdict')), ' · ', t('by'), ' ', r.reviewer, ' · ', CA.dateTime(r.reviewed_at),
        r.note ? el('div', { className: 'note' }, r.note) : null)));
    const whole = reviewOf('');
    const form = document.getElementById('review');
    if (whole && !form.dataset.touched) form.querySelector(`input[value=${whole.verdict}]`).checked = true;
    if (user.role !== 'qa') form.querySelectorAll('input, textarea, button').forEach((n) => { n.disabled = true; });
  }

  function renderSuggestions(c) {
    const list = clear(document.getElementById('suggestions'));
    const items = c.suggestions || [];
    if (!items.length) { list.append(el('li', { className: 'muted' }, t('no_suggestions'))); return; }
    items.forEach((s) => list.append(el('li', { className: 'suggestion kind-' + CA.cssToken(s.kind) },
      el('strong', {}, s.title), el('p', { className: 'sugg-text' }, s.text),
      s.evidence ? el('q', { className: 'evidence muted' }, s.evidence) : null)));
  }

  document.getElementById('review').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.target;
    form.dataset.touched = '1';
    const verdict = form.querySelector('input[name=verdict]:checked');
    if (!verdict) return;
    if (await saveReview(verdict.value, form.note.value, '')) form.note.value = '';
  });
  CA.onLang(() => { if (data) { render(); renderSummary(); renderScorecard(); } });
  load();
})();
