// Supervisor wall: every live call with its customer emotion, open alerts, duration and
// silence; a click opens the call's live view.  Rows arrive coalesced ("wall" messages).
'use strict';
(async () => {
  const { t, el, clear } = CA;
  CA.initChrome();
  const user = await CA.requireUser();
  const notice = document.getElementById('notice');
  if (user.role !== 'supervisor') {
    notice.hidden = false; notice.className = 'notice notice-error'; notice.textContent = t('forbidden');
    return;
  }
  const rows = new Map();
  let serverSkew = 0; // server_time - local time, so durations do not depend on the PC clock

  function onMessage(msg) {
    if (msg.type !== 'wall') return;
    if (msg.server_time) serverSkew = msg.server_time - Date.now() / 1000;
    if (msg.full) rows.clear();
    (msg.rows || []).forEach((r) => rows.set(r.call_id, r));
    (msg.removed || []).forEach((id) => rows.delete(id));
    render();
  }

  function now() { return Date.now() / 1000 + serverSkew; }

  function score(r) {
    // most urgent first: severe open alerts, then an agitated customer, then long calls
    return (CA.SEV_RANK[r.max_severity] || 0) * 10 + (r.emotion && r.emotion.arousal ? r.emotion.arousal * 5 : 0);
  }

  function render() {
    const wall = clear(document.getElementById('wall'));
    const list = [...rows.values()].sort((a, b) =>
      (a.status === 'live' ? 0 : 1) - (b.status === 'live' ? 0 : 1) || score(b) - score(a) || a.started_at - b.started_at);
    document.getElementById('count').textContent = t('live_count', { n: list.filter((r) => r.status === 'live').length });
    if (!list.length) { wall.append(el('p', { className: 'muted' }, t('no_live_calls'))); return; }
    list.forEach((r) => wall.append(card(r)));
    tick();
  }

  function card(r) {
    const e = r.emotion || {};
    const pct = Math.round(100 * Math.max(0, Math.min(1, e.arousal || 0)));
    const node = el('a', {
      className: 'wall-card sev-' + CA.cssToken(r.max_severity || 'none') + ' call-' + CA.cssToken(r.status),
      href: '/agent?call=' + encodeURIComponent(r.call_id), title: t('open_view'), dataset: { call: r.call_id },
    },
    el('div', { className: 'wall-top' },
      el('strong', { className: 'call-id' }, r.call_id),
      el('span', { className: 'status status-' + CA.cssToken(r.status) }, r.status === 'live' ? t('live') : t('ended'))),
    el('div', { className: 'wall-agent' }, t('agent'), ': ', r.agent_id || '—', r.queue ? ' · ' + r.queue : ''),
    el('div', { className: 'wall-emotion state-' + CA.cssToken(e.state) },
      el('span', { className: 'state-label' }, e.state ? CA.stateLabel(e.state) : '—'),
      e.trend ? el('span', { className: 'trend trend-' + CA.cssToken(e.trend) }, CA.trendArrow(e.trend)) : null,
      el('span', { className: 'muted' }, e.state ? ' ' + pct + '%' : '')),
    el('div', { className: 'wall-stats' },
      el('span', {}, t('duration'), ' ', el('span', { className: 'dur', dataset: { start: r.started_at, end: r.ended_at || '' } })),
      el('span', {}, t('silence'), ' ', el('span', { className: 'sil', dataset: { last: r.last_speech_at || r.started_at } }))),
    el('div', { className: 'wall-alerts' },
      el('span', { className: 'sev-badge' + (r.alerts_open ? '' : ' none') },
        r.alerts_open ? t('n_alerts', { n: r.alerts_open }) + ' · ' + CA.sevLabel(r.max_severity) : t('no_alerts')),
      r.last_alert ? el('span', { className: 'last-alert' }, r.last_alert.message) : null));
    return node;
  }

  function tick() {
    const n = now();
    document.querySelectorAll('.wall .dur').forEach((d) => {
      const end = Number(d.dataset.end) || n;
      d.textContent = CA.duration(end - Number(d.dataset.start));
    });
    document.querySelectorAll('.wall .sil').forEach((d) => {
      const s = Math.max(0, n - Number(d.dataset.last));
      d.textContent = CA.duration(s);
      d.classList.toggle('long', s > 20);
    });
  }
  setInterval(tick, 1000);

  CA.onLang(render);
  const sock = new CA.LiveSocket(onMessage, CA.connStatus);
  sock.resubscribe.push({ op: 'wall' });
  sock.connect();
  render();
})();
