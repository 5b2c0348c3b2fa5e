// QA list: finished calls ranked by risk, with filters and transcript search.  The filters
// live in the URL, so a filtered list can be bookmarked or shared.
import * as CA from './common.js';
import * as KB from './kb.js';
(async () => {
  const { t, el, clear } = CA;
  CA.initChrome();
  const user = await CA.requireUser();
  const notice = document.getElementById('notice');
  if (!CA.QA_READERS.includes(user.role)) {
    notice.hidden = false; notice.className = 'notice notice-error'; notice.textContent = t('forbidden');
    document.getElementById('filters').hidden = true; document.getElementById('calls').hidden = true;
    return;
  }
  KB.initReport(document.getElementById('kbreport'));
  const form = document.getElementById('filters');
  const FIELDS = ['q', 'agent', 'language', 'rule', 'severity', 'from', 'to', 'reviewed', 'sort'];
  let offset = Number(new URLSearchParams(location.search).get('offset')) || 0;
  const limit = 25;
  let facets = { agents: [], languages: [], rules: [] };

  function options(select, values, anyLabel) {
    const current = select.value;
    clear(select);
    if (anyLabel) select.append(el('option', { value: '' }, anyLabel));
    values.forEach(([v, label]) => select.append(el('option', { value: v }, label)));
    select.value = current;
    if (select.selectedIndex < 0 && select.options.length) select.selectedIndex = 0;
  }

  function fillSelects() {
    options(form.agent, facets.agents.map((a) => [a, a]), t('any'));
    options(form.language, facets.languages.map((a) => [a, CA.langLabel(a)]), t('any'));
    options(form.rule, facets.rules.map((a) => [a, CA.ruleName(a)]), t('any'));
    options(form.severity, [...CA.SEVERITIES].reverse().map((s) => [s, CA.sevLabel(s)]), t('any'));  // a minimum: low first
    options(form.reviewed, [['no', t('reviewed_no')], ['yes', t('reviewed_yes')]], t('any'));
    options(form.sort, [['risk', t('sort_risk')], ['newest', t('sort_newest')], ['longest', t('sort_longest')]]);
  }

  function readUrl() {
    const p = new URLSearchParams(location.search);
    FIELDS.forEach((f) => { if (p.has(f)) form[f].value = p.get(f); });
  }

  function query() {
    const p = new URLSearchParams();
    FIELDS.forEach((f) => { if (form[f].value) p.set(f, form[f].value); });
    // dates are the reviewer's local days: send epoch bounds
    if (form.from.value) p.set('from', String(new Date(form.from.value + 'T00:00:00').getTime() / 1000));
    if (form.to.value) p.set('to', String(new Date(form.to.value + 'T00:00:00').getTime() / 1000 + 86400));
    return p;
  }

  // the ranked list with scorecard totals as CSV (fetched with the token, saved from a blob)
  document.getElementById('export').addEventListener('click', async () => {
    const res = await fetch('/api/qa/export.csv?' + query(), { headers: { Authorization: 'Bearer ' + CA.token() }, cache: 'no-store' });
    if (!res.ok) return;
    const a = el('a', {}, 'csv');
    a.href = URL.createObjectURL(await res.blob());
    a.download = 'qa-calls.csv';
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  });

  async function load() {
    const urlParams = new URLSearchParams();
    FIELDS.forEach((f) => { if (form[f].value) urlParams.set(f, form[f].value); });
    if (offset) urlParams.set('offset', String(offset));
    history.replaceState(null, '', '/qa' + (urlParams.toString() ? '?' + urlParams : ''));
    const p = query(); p.set('limit', String(limit)); p.set('offset', String(offset));
    const r = await CA.api('/api/qa/calls?' + p);
    const body = document.querySelector('#calls tbody');
    clear(body);
    if (!r.ok) {
      notice.hidden = false; notice.className = 'notice notice-error';
      notice.textContent = t('error', { msg: (r.body && r.body.error) || r.status });
      return;
    }
    notice.hidden = true;
    document.getElementById('total').textContent = t('results', { n: r.body.total });
    if (!r.body.items.length) {
      body.append(el('tr', {}, el('td', { colspan: 10, className: 'muted empty' }, t('no_results'))));
    }
    r.body.items.forEach((c, i) => { body.append(row(c, offset + i + 1)); if (c.snippet) body.append(snippetRow(c)); });
    document.getElementById('prev').disabled = offset === 0;
    document.getElementById('next').disabled = offset + limit >= r.body.total;
    document.getElementById('pageinfo').textContent = r.body.total
      ? (offset + 1) + '–' + Math.min(offset + limit, r.body.total) + ' / ' + r.body.total : '';
  }

  function row(c, rank) {
    const href = '/qa/call?id=' + encodeURIComponent(c.call_id);
    const sev = CA.severityOfRank(c.max_severity);
    // the level shown is never below the worst alert's severity (a Critical alert is never "High")
    const level = CA.sevRank(c.risk_level) >= (c.max_severity || 0) ? c.risk_level : sev;
    const bar = el('span', { className: 'risk-bar' }, el('span', { className: 'risk-fill level-' + CA.cssToken(level) }));
    bar.firstChild.style.width = Math.max(2, Math.min(100, c.risk_score)) + '%';
    const tr = el('tr', { className: 'call-row', dataset: { call: c.call_id }, onclick: () => { location.href = href; } },
      el('td', { className: 'rank' }, String(rank)),
      el('td', { className: 'risk' }, el('strong', {}, String(Math.round(c.risk_score))), ' ',
        el('span', { className: 'level level-' + CA.cssToken(level) }, CA.sevLabel(level)), bar),
      el('td', {}, el('a', { href }, c.call_id)),
      el('td', {}, c.agent_id || '—'),
      el('td', {}, CA.dateTime(c.started_at)),
      el('td', {}, CA.duration(c.duration)),
      el('td', {}, CA.langLabel(c.language) || '—'),
      el('td', {}, c.alert_count ? el('span', { className: 'sev-badge sev-' + sev }, String(c.alert_count) + ' · ' + CA.sevLabel(sev)) : '0'),
      el('td', { className: 'rules' }, c.rules.map((r) => el('span', { className: 'chip', title: r }, CA.ruleName(r)))),
      el('td', {}, c.review ? el('span', { className: 'chip verdict-' + CA.cssToken(c.review.verdict) }, t(c.review.verdict)) : '—'));
    return tr;
  }

  function snippetRow(c) {
    return el('tr', { className: 'snippet-row' }, el('td', {}), el('td', { colspan: 9, className: 'snippet' }, c.snippet));
  }

  form.addEventListener('submit', (ev) => { ev.preventDefault(); offset = 0; load(); });
  form.addEventListener('reset', () => { setTimeout(() => { offset = 0; load(); }, 0); });
  document.getElementById('prev').addEventListener('click', () => { offset = Math.max(0, offset - limit); load(); });
  document.getElementById('next').addEventListener('click', () => { offset += limit; load(); });
  CA.onLang(() => { fillSelects(); load(); });

  const f = await CA.api('/api/qa/facets');
  if (f.ok) facets = f.body;
  fillSelects();
  readUrl();
  load();
})();
