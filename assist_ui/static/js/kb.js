// Knowledge base on the agent panel: the search box (GET /api/kb/search) and, for every
// suggestion card, "useful / not useful" (POST /api/kb/feedback).  Needs common.js.
'use strict';
const KB = (() => {
  const { t, el, clear } = CA;

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

  function initSearch(form) {
    const list = form.parentNode.querySelector('.kb-results');
    const status = form.querySelector('.form-status');
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const q = form.querySelector('input[name=q]').value.trim();
      clear(list);
      if (!q) return;
      status.textContent = t('loading');
      const r = await CA.api('/api/kb/search?q=' + encodeURIComponent(q) + '&lang=' + CA.lang());
      status.textContent = '';
      if (!r.ok) { status.textContent = t('error', { msg: (r.body && r.body.error) || r.status }); return; }
      if (!r.body.results.length) { list.append(el('li', { className: 'muted' }, t('kb_no_results'))); return; }
      r.body.results.forEach((x) => list.append(resultNode(x)));
    });
  }

  return { initSearch };
})();
