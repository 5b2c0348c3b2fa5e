// Supervisor wall: every live call as a dense card (agent name, queue, customer emotion,
// open/acknowledged alerts, duration, silence, raised hand), most urgent first; filters,
// search, counts per severity, grouping by queue; a click opens the call's live view.
// Rows arrive coalesced ("wall" messages); an ended call leaves the wall.
// Cards are kept per call and rebuilt only when their row changed, so 200 live calls stay cheap.
import * as CA from './common.js';
(async () => {
  const { t, el, clear } = CA;
  CA.initChrome();
  const user = await CA.requireUser();
  const notice = document.getElementById('notice');
  if (user.role !== 'supervisor') {
    notice.hidden = false; notice.className = 'notice notice-error'; notice.textContent = t('forbidden');
    document.getElementById('wallfilters').hidden = true;
    return;
  }
  const rows = new Map(); // call_id -> wall row (live calls only)
  const cards = new Map(); // call_id -> { key, node }
  const names = new Map(); // agent id -> display name
  const asked = new Set();
  let serverSkew = 0; // server_time - local time, so durations do not depend on the PC clock
  let renderQueued = false;
  const stats = { renders: 0, renderMs: [], frameMs: [], messages: 0 };
  window.__wall = stats; // read by the browser tests and the wall benchmark

  const form = document.getElementById('wallfilters');
  const FILTERS = ['q', 'queue', 'severity', 'agent', 'language', 'state', 'group'];
  const filters = Object.fromEntries(new URLSearchParams(location.search));

  function onMessage(msg) {
    if (msg.type === 'names') {
      Object.entries(msg.names || {}).forEach(([id, name]) => names.set(id, name));
      schedule(); return;
    }
    if (msg.type !== 'wall') return;
    if (msg.server_time) serverSkew = msg.server_time - Date.now() / 1000;
    if (msg.full) rows.clear();
    (msg.rows || []).forEach((r) => { if (r.status === 'live') rows.set(r.call_id, r); else rows.delete(r.call_id); });
    (msg.removed || []).forEach((id) => rows.delete(id));
    const unknown = [...new Set([...rows.values()].map((r) => r.agent_id))].filter((id) => id && !asked.has(id));
    if (unknown.length) { unknown.forEach((id) => asked.add(id)); sock.send({ op: 'names', ids: unknown.slice(0, 500) }); }
    schedule();
  }

  function schedule() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => { renderQueued = false; render(); });
  }

  function now() { return Date.now() / 1000 + serverSkew; }
  function agentName(r) { return names.get(r.agent_id) || r.agent_id || '—'; }
  function openAlerts(r) { return Math.max(0, (r.alerts_open || 0) - (r.acked || 0)); }
  function stateOf(r) { return (r.emotion && r.emotion.state) || ''; }

  function score(r) {
    // most urgent first: a raised hand, severe alerts not yet acknowledged, an agitated customer
    return (r.hand ? 100 : 0) + (openAlerts(r) ? CA.sevRank(r.max_severity) * 10 : 0) +
      (r.emotion && r.emotion.arousal ? r.emotion.arousal * 5 : 0);
  }

  function matches(r) {
    if (filters.queue && r.queue !== filters.queue) return false;
    if (filters.agent && r.agent_id !== filters.agent) return false;
    if (filters.language && r.language !== filters.language) return false;
    if (filters.severity && CA.sevRank(r.max_severity) < CA.sevRank(filters.severity)) return false;
    if (filters.state === 'hand' && !r.hand) return false;
    if (filters.state && filters.state.startsWith('call:') && r.call_state !== filters.state.slice(5)) return false;
    if (filters.state && filters.state !== 'hand' && !filters.state.startsWith('call:') && stateOf(r) !== filters.state) {
      return false;
    }
    if (filters.q) {
      const hay = [r.call_id, r.agent_id, agentName(r), r.customer_id, r.queue, CA.queueLabel(r.queue),
        r.last_alert && r.last_alert.message].join(' ').toLowerCase();
      if (!hay.includes(filters.q.toLowerCase())) return false;
    }
    return true;
  }

  // -- filters (kept in the URL, like the QA page) ------------------------------------------
  function options(select, values, label) {
    const current = filters[select.name] || '';
    clear(select).append(el('option', { value: '' }, t('any')));
    values.forEach(([v, text]) => select.append(el('option', { value: v }, text)));
    if (current && !values.some(([v]) => v === current)) select.append(el('option', { value: current }, label(current)));
    select.value = current;
  }
  function distinct(key) { return [...new Set([...rows.values()].map((r) => r[key]).filter(Boolean))].sort(); }
  let filterKey = '';
  function renderFilters() {
    if (form.contains(document.activeElement) && document.activeElement.tagName === 'SELECT') return; // open list
    // rebuild the drop-downs only when what they offer changed (not on every wall message)
    const key = [CA.lang(), names.size, JSON.stringify(filters), distinct('queue'), distinct('agent_id').length,
      distinct('language'), [...new Set([...rows.values()].map(stateOf))].sort()].join('|');
    if (key === filterKey) return;
    filterKey = key;
    options(form.queue, distinct('queue').map((q) => [q, CA.queueLabel(q)]), CA.queueLabel);
    options(form.severity, CA.SEVERITIES.map((s) => [s, CA.sevLabel(s)]), CA.sevLabel);
    options(form.agent, distinct('agent_id').map((a) => [a, names.get(a) || a]).sort((a, b) => a[1].localeCompare(b[1])),
      (a) => names.get(a) || a);
    options(form.language, distinct('language').map((l) => [l, CA.langLabel(l)]), CA.langLabel);
    const states = [...new Set([...rows.values()].map(stateOf).filter(Boolean))].sort();
    options(form.state, [['hand', t('hand_raised_short')], ['call:hold', t('call_state_hold')],
      ['call:muted', t('call_state_muted')], ...states.map((s) => [s, CA.stateLabel(s)])], CA.stateLabel);
    form.group.checked = filters.group === '1';
    if (document.activeElement !== form.q) form.q.value = filters.q || '';
  }
  function readFilters() {
    FILTERS.forEach((k) => { delete filters[k]; });
    const q = form.q.value.trim();
    if (q) filters.q = q;
    ['queue', 'severity', 'agent', 'language', 'state'].forEach((k) => { if (form[k].value) filters[k] = form[k].value; });
    if (form.group.checked) filters.group = '1';
    history.replaceState(null, '', '/supervisor' + (Object.keys(filters).length ? '?' + new URLSearchParams(filters) : ''));
    schedule();
  }
  form.addEventListener('input', readFilters);
  form.addEventListener('change', readFilters);
  form.addEventListener('submit', (ev) => ev.preventDefault());
  form.addEventListener('reset', () => setTimeout(readFilters, 0));

  // -- rendering -----------------------------------------------------------------------------
  function render() {
    const started = performance.now();
    renderFilters();
    const all = [...rows.values()];
    const list = all.filter(matches).sort((a, b) => score(b) - score(a) || a.started_at - b.started_at);
    document.getElementById('count').textContent = list.length === all.length
      ? t('live_count', { n: all.length }) : t('showing', { n: list.length, total: all.length });
    renderSevCounts(all);
    const wall = document.getElementById('wall');
    const seen = new Set();
    const cardOf = (r) => { seen.add(r.call_id); return card(r); };
    const wanted = [];
    if (!list.length) wanted.push(el('p', { className: 'muted' }, all.length ? t('no_results') : t('no_live_calls')));
    else if (filters.group === '1') {
      const byQueue = new Map();
      list.forEach((r) => { const q = r.queue || ''; if (!byQueue.has(q)) byQueue.set(q, []); byQueue.get(q).push(r); });
      [...byQueue.keys()].sort().forEach((q) => {
        const group = byQueue.get(q);
        wanted.push(el('h2', { className: 'wall-group', dataset: { queue: q } },
          (q ? CA.queueLabel(q) : '—') + ' (' + group.length + ')'));
        group.forEach((r) => wanted.push(cardOf(r)));
      });
    } else list.forEach((r) => wanted.push(cardOf(r)));
    // put the nodes in order, moving kept cards instead of rebuilding them
    wanted.forEach((node, i) => { if (wall.children[i] !== node) wall.insertBefore(node, wall.children[i] || null); });
    while (wall.children.length > wanted.length) wall.lastChild.remove();
    for (const id of [...cards.keys()]) if (!seen.has(id)) cards.delete(id);
    wall.classList.toggle('grouped', filters.group === '1');
    tick();
    stats.renders += 1;
    stats.renderMs.push(performance.now() - started);
    // render + style + layout + paint: until the frame after this one starts
    requestAnimationFrame(() => requestAnimationFrame(() => stats.frameMs.push(performance.now() - started)));
    if (stats.renderMs.length > 2000) { stats.renderMs.splice(0, 1000); stats.frameMs.splice(0, 1000); }
  }

  function renderSevCounts(all) {
    const box = clear(document.getElementById('sevcounts'));
    const counts = { none: 0 };
    CA.SEVERITIES.forEach((s) => { counts[s] = 0; });
    all.forEach((r) => { counts[openAlerts(r) && r.max_severity in counts ? r.max_severity : 'none'] += 1; });
    [...CA.SEVERITIES, 'none'].forEach((s) => box.append(el('button', {
      type: 'button', className: 'sev-count sev-badge sev-' + s + (s === 'none' ? ' none' : ''), dataset: { sev: s },
      title: t('filter_severity'),
      onclick: () => { if (s !== 'none') { form.severity.value = s; readFilters(); } },
    }, (s === 'none' ? t('no_open_alerts') : CA.sevLabel(s)) + ' ' + counts[s])));
  }

  // A card is built once per call and then updated in place (text and classes only), so a
  // wall message touching 200 rows changes text nodes, not 200 subtrees.
  function card(r) {
    const key = [r.v, r.acked, r.hand, r.help, r.call_state, CA.lang(), names.get(r.agent_id) || ''].join('|');
    let kept = cards.get(r.call_id);
    if (kept && kept.key === key) return kept.node;
    if (!kept) { kept = buildCard(r); cards.set(r.call_id, kept); }
    kept.key = key;
    const e = r.emotion || {};
    const pct = Math.round(100 * Math.max(0, Math.min(1, e.arousal || 0)));
    const open = openAlerts(r);
    const p = kept.parts;
    kept.node.className = 'wall-card sev-' + CA.cssToken(open ? r.max_severity : 'none') + (r.hand ? ' has-hand' : '');
    p.name.textContent = agentName(r);
    p.hand.hidden = !r.hand; p.hand.textContent = t('hand_raised_short');
    p.help.hidden = !r.help; p.help.textContent = t('help_sent');
    const held = r.call_state && r.call_state !== 'active';
    p.cstate.hidden = !held; p.cstate.className = 'call-state call-state-' + CA.cssToken(r.call_state);
    p.cstate.textContent = held ? t('call_state_' + r.call_state) : '';
    p.dur.dataset.start = r.started_at;
    p.meta.textContent = r.call_id + (r.queue ? ' · ' + CA.queueLabel(r.queue) : '') +
      (r.language ? ' · ' + CA.langLabel(r.language) : '');
    p.emotion.className = 'wall-emotion state-' + CA.cssToken(e.state);
    p.state.textContent = e.state ? CA.stateLabel(e.state) : '—';
    p.trend.className = 'trend trend-' + CA.cssToken(e.trend);
    p.trend.textContent = e.trend ? CA.trendArrow(e.trend) : '';
    p.pct.textContent = e.state ? pct + '%' : '';
    p.silLabel.textContent = t('silence');
    p.over.dataset.at = r.talk_over_at || 0;
    p.over.textContent = t('talk_over');
    p.sil.dataset.last = r.last_speech_at || r.started_at;
    p.sil.dataset.held = r.call_state === 'hold' ? '1' : '';  // on hold: silence is expected, never red
    p.badge.className = 'sev-badge sev-' + CA.cssToken(r.max_severity) + (r.alerts_open ? '' : ' none');
    p.badge.textContent = r.alerts_open ? CA.sevLabel(r.max_severity) + ' ' + open + '/' + r.alerts_open : t('no_alerts');
    p.last.textContent = r.last_alert ? r.last_alert.message : '';
    return kept.node;
  }

  function buildCard(r) {
    const p = {
      name: el('strong', { className: 'wall-agent-name' }), hand: el('span', { className: 'hand' }),
      help: el('span', { className: 'help-flag' }), dur: el('span', { className: 'dur' }), cstate: el('span', {}),
      meta: el('div', { className: 'wall-meta muted' }), state: el('span', { className: 'state-label' }),
      trend: el('span', {}), pct: el('span', { className: 'muted' }), silLabel: el('span', {}),
      sil: el('span', { className: 'sil' }), over: el('span', { className: 'talk-over', hidden: true }), badge: el('span', {}), last: el('span', { className: 'last-alert' }),
    };
    p.emotion = el('div', {}, p.state, p.trend, p.pct, el('span', { className: 'sil-box muted' }, p.silLabel, ' ', p.sil), p.over);
    const node = el('a', { href: '/agent?call=' + encodeURIComponent(r.call_id), title: t('open_view'), dataset: { call: r.call_id } },
      el('div', { className: 'wall-top' }, p.name, p.cstate, p.hand, p.help, p.dur), p.meta, p.emotion,
      el('div', { className: 'wall-alerts' }, p.badge, p.last));
    return { key: '', node, parts: p };
  }

  const TALK_OVER_SHOW_S = 6;
  function tick() {
    const n = now();
    document.querySelectorAll('.wall .dur').forEach((d) => { d.textContent = CA.duration(n - Number(d.dataset.start)); });
    document.querySelectorAll('.wall .sil').forEach((d) => {
      const s = Math.max(0, n - Number(d.dataset.last));
      d.textContent = CA.duration(s);
      d.classList.toggle('long', s > 20 && !d.dataset.held);
    });
    // talk-over shows while the agent's latest overlapping window is recent (windows come every few s)
    document.querySelectorAll('.wall .talk-over').forEach((d) => { d.hidden = !(n - Number(d.dataset.at) < TALK_OVER_SHOW_S); });
  }
  setInterval(tick, 1000);

  CA.onLang(() => { cards.clear(); clear(document.getElementById('wall')); render(); });
  const sock = new CA.LiveSocket((msg) => { stats.messages += 1; onMessage(msg); }, CA.connStatus);
  sock.resubscribe.push({ op: 'wall' });
  sock.connect();
  render();
})();
