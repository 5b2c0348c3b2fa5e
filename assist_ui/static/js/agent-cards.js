// Agent panel, side cards: customer emotion, response strategy and suggested replies.
import * as KB from './kb.js';
import { clear, copyText, cssToken, el } from './dom.js';
import { stateLabel, trendArrow } from './format.js';
import { t } from './i18n.js';

// why a suggestion, strategy or alert fired (matched terms, intent, confidence), on demand
export function whyDetails(why) {
  return why ? el('details', { className: 'why muted', onclick: (ev) => ev.stopPropagation() },
    el('summary', {}, t('why')), why) : null;
}

function copyButton(text) {
  const b = el('button', { type: 'button', className: 'copy' }, t('copy'));
  b.addEventListener('click', async (ev) => {
    ev.stopPropagation();
    if (await copyText(text)) { b.textContent = t('copied'); b.classList.add('done'); }
    setTimeout(() => { b.textContent = t('copy'); b.classList.remove('done'); }, 1500);
  });
  return b;
}

function latest(map, pred) {
  return [...map.values()].filter(pred).sort((a, b) => (b.produced_at || 0) - (a.produced_at || 0));
}

export function renderEmotion(view) {
  const box = clear(document.getElementById('emotion'));
  const e = view.emotion.customer || Object.values(view.emotion)[0];
  if (!e) { box.append(el('p', { className: 'muted' }, '—')); return; }
  const pct = Math.round(100 * Math.max(0, Math.min(1, e.arousal || 0)));
  const shown = e.customer_state || e.state;  // voice fused with the customer's words (streams)
  box.append(
    el('div', { className: 'emotion-state state-' + cssToken(shown) },
      el('span', { className: 'state-label' }, stateLabel(shown)),
      el('span', { className: 'trend trend-' + cssToken(e.trend), title: t('trend_' + (e.trend || 'steady')) },
        trendArrow(e.trend), ' ', t('trend_' + (e.trend || 'steady')))),
    el('div', { className: 'meter', title: t('arousal') + ' ' + pct + '%' },
      el('div', { className: 'meter-fill' })),
    el('div', { className: 'meter-label muted' }, t('arousal') + ' ' + pct + '%'));
  if ((e.reasons || []).length) box.append(el('p', { className: 'reasons muted' }, e.reasons.join(' · ')));
  const hints = (view.emotion.agent || {}).hints || [];  // delivery hints are about the agent's own channel
  if (hints.length) box.append(el('ul', { className: 'hints' }, hints.map((h) => el('li', {}, h))));
  // width via CSSOM (style attributes are blocked by the CSP)
  box.querySelector('.meter-fill').style.width = pct + '%';
}

export function renderStrategy(view) {
  const box = clear(document.getElementById('strategy'));
  const s = latest(view.suggestions, (x) => x.kind === 'strategy')[0];
  if (!s) { box.append(el('p', { className: 'muted' }, t('no_strategy'))); return; }
  box.append(el('div', { className: 'strategy' + (view.flash.has(s.suggestion_id) ? ' flash' : '') },
    el('strong', {}, s.title), el('p', {}, s.text), copyButton(s.text), whyDetails(s.why)));
}

export function renderSuggestions(view) {
  const list = clear(document.getElementById('suggestions'));
  const items = latest(view.suggestions, (x) => x.kind !== 'strategy').slice(0, 8);
  if (!items.length) { list.append(el('li', { className: 'muted' }, t('no_suggestions'))); return; }
  items.forEach((s) => {
    const btn = copyButton(s.text);
    list.append(el('li', {
      className: 'suggestion' + (view.flash.has(s.suggestion_id) ? ' flash' : ''),
      dataset: { suggestion: s.suggestion_id }, title: t('copy'), onclick: () => btn.click(),
    }, el('div', { className: 'sugg-head' }, el('strong', {}, s.title), btn),
    el('p', { className: 'sugg-text' }, s.text),
    s.evidence ? el('q', { className: 'evidence muted' }, s.evidence) : null, whyDetails(s.why),
    KB.feedbackButtons(view.meta.call_id, s)));
  });
}
