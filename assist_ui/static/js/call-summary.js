// QA call page: the extractive summary (assist_ui/call_summary.py, in the call's language)
// and the scorecard (assist_ui/scorecard.py: filled automatically; QA may override an item,
// the automatic score stays next to it).
import { api } from './api.js';
import { clear, el } from './dom.js';
import { clock, sevLabel } from './format.js';
import { currentLang, t } from './i18n.js';
import { SEVERITIES } from './vocab.js';

export function renderSummary(summary, playFrom) {
  const box = clear(document.getElementById('summary'));
  if (!summary) return;
  box.hidden = false;
  const row = (key, ...content) => el('div', { className: 'sum-row sum-' + key },
    el('span', { className: 'label' }, t('sum_' + key)), ' ', ...content);
  const quotes = (items) => (items.length ? el('ul', {}, items.map((x) => el('li', {},
    el('button', { type: 'button', className: 'small play-from', onclick: () => playFrom(x.at) }, '▶ ' + clock(x.at)), ' ',
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
    row('alerts', summary.alerts.length ? SEVERITIES.filter((s) => sevs[s]).map((s) => sevLabel(s) + ' ' + sevs[s]).join(' · ')
      : t('sum_none')),
    // the arc's voice arousal (start → peak → end) when there were voice readings, and what
    // counted per phase (voice agitated, the customer's words), already in the call's language
    row('emotion', el('span', { className: 'data' }, e.label), e.peak !== null ? ` (${e.start ?? '–'} → ${e.peak} → ${e.end ?? '–'})` : '',
      (e.reasons || []).length ? el('span', { className: 'muted data sum-arc-reasons' }, ' · ' + e.reasons.join(' · ')) : ''));
}

// ctx: {user, callId, onCard(card) after a saved override, fail(message)}
export function renderScorecard(card, ctx) {
  const box = clear(document.getElementById('scorecard'));
  if (!card) return;
  box.hidden = false;
  const isQa = ctx.user.role === 'qa';
  const label = (i) => i.label[currentLang()] || i.label.en || i.id;
  const rows = card.items.map((i) => {
    const tr = el('tr', { className: 'sc-item' + (i.override ? ' overridden' : ''), dataset: { item: i.id } },
      el('td', {}, label(i), i.evidence ? el('div', { className: 'muted sc-evidence data', title: i.evidence }, i.evidence) : null),
      el('td', { className: 'sc-auto' }, `${i.auto} / ${i.weight}`),
      el('td', { className: 'sc-final' }, String(i.score),
        i.override ? el('div', { className: 'muted' }, t('sc_overridden', { who: i.override.reviewer }),
          i.override.note ? el('span', { className: 'note' }, ' · ' + i.override.note) : '') : null));
    if (isQa) {
      const input = el('input', { type: 'number', min: '0', max: String(i.weight), step: '1', value: String(i.score),
        className: 'sc-score', 'aria-label': label(i) });
      const note = el('input', { type: 'text', maxlength: '2000', className: 'sc-note', placeholder: t('sc_note') });
      tr.append(el('td', {}, input, note, el('button', { type: 'button', className: 'small sc-save', onclick: async () => {
        const p = new URLSearchParams({ item: i.id, score: input.value, note: note.value });
        const r = await api('/api/qa/calls/' + encodeURIComponent(ctx.callId) + '/scorecard?' + p, { method: 'POST' });
        if (r.ok) ctx.onCard(r.body); else ctx.fail(t('error', { msg: (r.body && r.body.error) || r.status }));
      } }, t('sc_save'))));
    }
    return tr;
  });
  box.append(el('h2', {}, t('scorecard_title')), el('table', { className: 'scorecard' },
    el('thead', {}, el('tr', {}, el('th', {}, t('sc_item')), el('th', {}, t('sc_auto')), el('th', {}, t('sc_final')),
      isQa ? el('th', {}, '') : null)),
    el('tbody', {}, rows),
    el('tfoot', {}, el('tr', {}, el('th', {}, t('sc_total')), el('td', { className: 'sc-auto-total' }, `${card.auto_total} / ${card.max}`),
      el('td', { className: 'sc-total' }, String(card.total)), isQa ? el('td', {}, '') : null))));
}
