// Knowledge base on the agent panel: the search box (GET /api/kb/search) and, for every
// suggestion card, "useful / not useful" (POST /api/kb/feedback); the KB owners' report on the QA page.
import { api } from './api.js';
import { clear, el } from './dom.js';
import { t } from './i18n.js';

// KB articles link to the company's knowledge site: only http(s) links, opened apart
function articleLink(url) {
  const a = el('a', { className: 'kb-link', target: '_blank', rel: 'noopener noreferrer' }, url);
  if (/^https?:\/\//i.test(url)) a.setAttribute('href', url);
  return a;
}

function resultNode(r) {
  return el('li', { className: 'kb-result' + (r.suggestable ? '' : ' weak'), dataset: { entry: r.entry_id } },
    el('div', { className: 'sugg-head' }, el('strong', {}, r.title),
      el('span', { className: 'muted kb-score' }, t('kb_confidence', { pct: Math.round((r.score || 0) * 100) }))),
    el('p', { className: 'sugg-text' }, r.answer),
    (r.links || []).length ? el('div', { className: 'kb-links' }, (r.links || []).map(articleLink)) : null);
}

export function initSearch(form) {
  const list = form.parentNode.querySelector('.kb-results');
  const status = form.querySelector('.form-status');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const q = form.querySelector('input[name=q]').value.trim();
    clear(list);
    if (!q) return;
    status.textContent = t('loading');
    // the query's own language picks the article text (an agent types in the caller's language)
    const r = await api('/api/kb/search?q=' + encodeURIComponent(q));
    status.textContent = '';
    if (!r.ok) { status.textContent = t('error', { msg: (r.body && r.body.error) || r.status }); return; }
    if (!r.body.results.length) { list.append(el('li', { className: 'muted' }, t('kb_no_results'))); return; }
    r.body.results.forEach((x) => list.append(resultNode(x)));
  });
}

// "useful / not useful" on a suggestion card; the choice is kept per suggestion so a
// re-render (the next transcript update) shows it pressed, and a second click changes it
const rated = new Map(); // call_id + suggestion_id -> true | false
export function feedbackButtons(callId, s) {
  const key = callId + '\u0000' + s.suggestion_id;
  const box = el('div', { className: 'kb-feedback', role: 'group', 'aria-label': t('kb_feedback') });
  const status = el('span', { className: 'form-status muted', role: 'status' });
  const button = (useful) => el('button', {
    type: 'button', className: 'small ' + (useful ? 'kb-useful' : 'kb-not-useful'),
    'aria-pressed': String(rated.get(key) === useful),
    onclick: async (ev) => {
      ev.stopPropagation(); // the card itself copies the text
      const r = await api('/api/kb/feedback?call_id=' + encodeURIComponent(callId) + '&suggestion_id='
        + encodeURIComponent(s.suggestion_id) + '&useful=' + useful, { method: 'POST' });
      if (!r.ok) { status.textContent = t('kb_feedback_failed'); return; }
      rated.set(key, useful);
      box.querySelectorAll('button').forEach((b) => b.setAttribute('aria-pressed',
        String(b.classList.contains('kb-useful') === useful)));
      status.textContent = t('kb_feedback_thanks');
    },
  }, t(useful ? 'kb_useful' : 'kb_not_useful'));
  box.append(button(true), button(false), status);
  return box;
}

// the KB owners' report (QA and supervisors), fetched each time the section is opened
export function initReport(box) {
  box.hidden = false;
  const body = box.querySelector('tbody');
  const pct = (v) => (v === null || v === undefined ? '–' : Math.round(v * 100) + '%');
  box.addEventListener('toggle', async () => {
    if (!box.open) return;
    const r = await api('/api/kb/report');
    clear(body);
    if (!r.ok) { body.append(el('tr', {}, el('td', { colspan: 6 }, t('error', { msg: r.status })))); return; }
    if (!r.body.rows.length) { body.append(el('tr', {}, el('td', { colspan: 6, className: 'muted' }, t('kb_report_empty')))); return; }
    r.body.rows.forEach((x) => body.append(el('tr', { dataset: { intent: x.intent, entry: x.entry_id || '' } },
      el('td', {}, t(x.kind === 'strategy' ? 'strategy_hint' : 'kb_report_kb')),
      el('td', {}, el('strong', {}, x.title || x.intent), ' ',
        el('span', { className: 'muted' }, [x.entry_id, x.intent].filter(Boolean).join(' · '))),
      el('td', {}, x.suggested), el('td', {}, x.useful), el('td', {}, x.not_useful), el('td', {}, pct(x.hit_rate)))));
  });
}
