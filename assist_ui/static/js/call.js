// QA call page: the stored (redacted) call with violations highlighted in the transcript
// next to their evidence, what was suggested and where, the emotion curve, and verdicts.
// The recording plays in sync with the transcript: click a line or an alert to play from
// it, the current line follows the audio, the curve shows the playhead on the same time
// axis. Playback is audited by the server (POST …/playback) before a ticket URL is given;
// spoken personal data is replaced by a tone in what plays.
import * as CA from './common.js';
import { renderCurve } from './call-curve.js';
import { Player } from './call-player.js';
import { renderScorecard, renderSummary } from './call-summary.js';

(async () => {
  const { t, el, clear, field } = CA;
  CA.initChrome();
  const user = await CA.requireUser();
  const callId = new URLSearchParams(location.search).get('id') || '';
  const notice = document.getElementById('notice');
  let data = null;
  let summary = null;
  let card = null;
  let curveX = null; // call time → x on the emotion curve
  const player = new Player(callId, document.getElementById('player'), () => curveX);
  const playFrom = (sec) => player.playFrom(sec);
  const showSummary = () => renderSummary(summary, playFrom);
  const showScorecard = () => renderScorecard(card, {
    user, callId, fail, onCard: (next) => { card = next; showScorecard(); } });

  function fail(msg) {
    notice.hidden = false; notice.className = 'notice notice-error'; notice.textContent = msg;
  }

  async function load() {
    if (!CA.QA_READERS.includes(user.role)) { fail(t('forbidden')); return; }
    const r = await CA.api('/api/qa/calls/' + encodeURIComponent(callId));
    if (r.status === 404) { fail(t('not_found')); return; }
    if (!r.ok) { fail(t('error', { msg: (r.body && r.body.error) || r.status })); return; }
    data = r.body;
    render();
    const sr = await CA.api('/api/qa/calls/' + encodeURIComponent(callId) + '/summary');
    if (sr.ok) { summary = sr.body; showSummary(); }
    const sc = await CA.api('/api/qa/calls/' + encodeURIComponent(callId) + '/scorecard');
    if (sc.ok) { card = sc.body; showScorecard(); }
  }

  function render() {
    const c = data.call;
    document.getElementById('callhead').hidden = false;
    document.getElementById('panel').hidden = false;
    renderHead(c);
    player.render();
    renderMissing(c);
    renderTranscript(c);
    curveX = renderCurve(c, alertTime, playFrom);
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
    const reasons = CA.callReasons(c); // structured risk_reasons, or the sentences of an older call
    if (reasons.length) {
      head.append(el('div', { className: 'reasons' }, el('span', { className: 'label' }, t('reasons')),
        el('ul', {}, reasons.map((x) => el('li', { title: x.title }, x.label)))));
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
    const worst = CA.worstSeverity(c.alerts || []);
    return CA.sevRank(c.risk_level) >= CA.sevRank(worst) ? (c.risk_level || '') : worst;
  }

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
      const worst = CA.worstSeverity(hits);
      list.append(el('li', {
        className: 'seg seg-' + CA.cssToken(s.channel) + ' final' + (hits.length ? ' violation sev-' + CA.cssToken(worst) : ''),
        dataset: { segment: s.segment_id, start: String(s.start || 0), end: String(s.end || 0) },
        title: t('play_from'), onclick: () => playFrom(s.start || 0),
      },
      el('span', { className: 'seg-time' }, CA.clock(s.start)),
      el('span', { className: 'speaker' }, CA.channelLabel(s.channel)),
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

  function reviewOf(alertId) { return (data.reviews || []).find((r) => r.alert_id === alertId); }

  function renderAlerts(c) {
    const list = clear(document.getElementById('alerts'));
    const alerts = (c.alerts || []).slice().sort(CA.bySeverity);
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
  CA.onLang(() => { if (data) { render(); showSummary(); showScorecard(); } });
  load();
})();
