// Agent panel, the shown call: its header line (status, customer, context, queue, duration,
// raise hand) and the live transcript.
import { clear, cssToken, el, field } from './dom.js';
import { channelLabel, clock, duration, langLabel, queueLabel } from './format.js';
import { t } from './i18n.js';

// call context from the platform (CallEvent.context); masked by the server for non-agents
function contextFields(ctx) {
  return ['customer_tier', 'account_ref', 'policy_ref', 'ivr_intent'].filter((k) => ctx[k])
    .map((k) => el('span', { className: 'field ctx ctx-' + k }, el('span', { className: 'label' }, t('ctx_' + k)), ' ', el('span', { className: 'ctx-value' }, ctx[k])));
}

function handButton(view, act) {
  const hand = view.actions.hand;
  if (hand) {
    return el('span', { className: 'hand-raised' }, t('hand_raised'), ' ',
      el('button', { type: 'button', className: 'small', id: 'lowerhand',
        onclick: () => act({ op: 'lower_hand', call_id: view.meta.call_id }) }, t('lower_hand')));
  }
  return el('button', { type: 'button', className: 'small raise-hand', id: 'raisehand',
    onclick: () => act({ op: 'raise_hand', call_id: view.meta.call_id }) }, t('raise_hand'));
}

// ctx: {isAgentView, act(op)}
export function renderHead(view, ctx) {
  const m = view.meta;
  const live = m.status === 'live';
  const head = clear(document.getElementById('callhead'));
  head.classList.toggle('ended', !live);
  head.append(
    el('span', { className: 'status status-' + cssToken(m.status) + (live ? ' live-marker' : '') },
      live ? t('live') : t('ended')),
    ...(live && m.call_state && m.call_state !== 'active'
      ? [el('span', { className: 'call-state call-state-' + cssToken(m.call_state) }, t('call_state_' + m.call_state))] : []),
    el('strong', { className: 'call-id' }, m.call_id),
    field(t('customer_id'), [(m.context || {}).customer_name, m.customer_id].filter(Boolean).join(' · ') || '—'),
    ...contextFields(m.context || {}),
    field(t('queue'), queueLabel(m.queue) || '—'),
    field(t('language'), langLabel(m.language) || '—'),
    field(t('duration'), el('span', { id: 'duration', dataset: { start: m.started_at, end: m.ended_at || '' } }, '')),
    ...(live ? [] : [el('span', { className: 'wrapup' }, t('wrapup'))]),
    ...(ctx.isAgentView && live ? [handButton(view, ctx.act)] : []));
  tickDuration();
}

export function tickDuration() {
  const n = document.getElementById('duration');
  if (!n) return;
  const start = Number(n.dataset.start) || 0;
  const end = Number(n.dataset.end) || Date.now() / 1000;
  n.textContent = start ? duration(end - start) : '—';
}

// Partials (issue 20): committed words (the first stable_len characters, which the ASR will
// not rewrite) in normal text, only the unstable tail in grey; "speaking…" goes once a
// channel's audio stopped (no newer partial or final for PARTIAL_STALE_MS).
export const PARTIAL_STALE_MS = 4000;
function segText(s) {
  const text = s.text || '';
  const n = s.is_final ? text.length : Math.max(0, Math.min(Number(s.stable_len) || 0, text.length));
  return el('span', { className: 'seg-text' }, text.slice(0, n),
    n < text.length ? el('span', { className: 'seg-tail' }, text.slice(n)) : null);
}
export function expirePartialMarks() {
  document.querySelectorAll('#transcript .seg.partial .partial-mark').forEach((m) => {
    if (Date.now() - Number(m.parentElement.dataset.seen) > PARTIAL_STALE_MS) m.remove();
  });
}

function segNode(s) {
  const li = el('li', { className: 'seg seg-' + cssToken(s.channel) + (s.is_final ? ' final' : ' partial') },
    el('span', { className: 'seg-time' }, clock(s.start)),
    el('span', { className: 'speaker' }, channelLabel(s.channel)),
    segText(s),
    s.is_final ? null : el('span', { className: 'partial-mark' }, t('partial')));
  li.dataset.seen = Date.now();
  li.dataset.start = s.start;
  li.dataset.segment = s.segment_id;
  return li;
}

// The transcript list of the shown call: rebuilt when the call changes, otherwise only the
// changed segments are replaced or inserted (by start time), so a long call stays cheap.
export class Transcript {
  constructor(list) { this.list = list; this.nodes = new Map(); } // segment_id -> <li>

  render(view, rebuild) {
    const list = this.list;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    if (rebuild) {
      clear(list); this.nodes.clear();
      const segs = [...view.segments.values()].sort((a, b) => a.start - b.start);
      segs.forEach((s) => { const li = segNode(s); this.nodes.set(s.segment_id, li); list.append(li); });
      view.changedSeg = null;
    } else if (view.changedSeg) {
      for (const id of view.changedSeg) {
        const s = view.segments.get(id);
        const li = segNode(s);
        const old = this.nodes.get(id);
        if (old) { old.replaceWith(li); } else {
          // insert by start time; new speech almost always goes last
          let after = list.lastElementChild;
          while (after && Number(after.dataset.start) > s.start) after = after.previousElementSibling;
          if (after) after.after(li); else list.prepend(li);
        }
        this.nodes.set(id, li);
      }
      view.changedSeg = null;
    }
    if (atBottom) list.scrollTop = list.scrollHeight;
  }
}
