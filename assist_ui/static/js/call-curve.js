// QA call page: the emotion curve (arousal over the call, per channel) with the alerts marked
// on the same time axis; a click plays from that moment.  Returns the time → x function.
import { clear, cssToken, el } from './dom.js';
import { clock, ruleName, stateLabel } from './format.js';
import { t } from './i18n.js';

const NS = 'http://www.w3.org/2000/svg';

// alertTime(a): where an alert sits on the time axis; playFrom(sec): start the recording there
export function renderCurve(c, alertTime, playFrom) {
  const box = clear(document.getElementById('curve'));
  const points = (c.emotion || []).filter((p) => typeof p.arousal === 'number');
  const W = 600; const H = 170; const L = 34; const B = 22; const T = 8;
  const dur = Math.max(c.duration || 0, ...points.map((p) => p.at || 0),
    ...(c.transcript || []).map((s) => s.end || 0), 1);
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('class', 'curve-svg');
  svg.setAttribute('role', 'img');
  const x = (sec) => L + (W - L - 8) * (Math.min(sec, dur) / dur);
  const y = (a) => T + (H - T - B) * (1 - a);
  const add = (tag, attrs, text) => {
    const n = document.createElementNS(NS, tag);
    Object.entries(attrs).forEach(([k, v]) => n.setAttribute(k, String(v)));
    if (text !== undefined) n.textContent = text;
    svg.appendChild(n); return n;
  };
  const titled = (node, text) => {
    const title = document.createElementNS(NS, 'title');
    title.textContent = text; node.appendChild(title);
  };
  [0, 0.5, 1].forEach((a) => {
    add('line', { x1: L, x2: W - 8, y1: y(a), y2: y(a), class: 'grid' });
    add('text', { x: L - 6, y: y(a) + 4, class: 'axis', 'text-anchor': 'end' }, a.toFixed(1));
  });
  for (let i = 0; i <= 4; i++) {
    const anchor = i === 0 ? 'start' : i === 4 ? 'end' : 'middle';
    add('text', { x: x(dur * i / 4), y: H - 6, class: 'axis', 'text-anchor': anchor }, clock(dur * i / 4));
  }
  (c.alerts || []).forEach((a) => {
    const at = alertTime(a);
    titled(add('line', { x1: x(at), x2: x(at), y1: T, y2: H - B, class: 'alert-mark sev-' + cssToken(a.severity),
      'data-alert': a.alert_id, 'data-at': at }), clock(at) + ' ' + ruleName(a.rule_id) + ': ' + a.message);
  });
  ['customer', 'agent'].forEach((ch) => {
    const pts = points.filter((p) => p.channel === ch).sort((a, b) => a.at - b.at);
    if (!pts.length) return;
    add('polyline', { points: pts.map((p) => x(p.at).toFixed(1) + ',' + y(p.arousal).toFixed(1)).join(' '), class: 'line-' + ch });
    pts.forEach((p) => titled(add('circle', { cx: x(p.at), cy: y(p.arousal), r: 2.5, class: 'dot-' + ch }),
      clock(p.at) + ' ' + stateLabel(p.state) + ' ' + Math.round(p.arousal * 100) + '%'));
  });
  add('line', { x1: x(0), x2: x(0), y1: T, y2: H - B, class: 'playhead' });
  svg.addEventListener('click', (ev) => {
    const r = svg.getBoundingClientRect();
    const sec = ((ev.clientX - r.left) / r.width * W - L) / (W - L - 8) * dur;
    if (sec >= 0) playFrom(Math.min(sec, dur));
  });
  const channels = ['customer', 'agent'].filter((ch) => points.some((p) => p.channel === ch));
  box.append(svg, el('div', { className: 'legend' },
    channels.map((ch) => el('span', { className: 'key key-' + ch }, t(ch)))));
  if (!points.length) box.append(el('p', { className: 'muted' }, '—'));
  return x;
}
