// Agent panel, top of the page: the alert strip and the supervisors' messages.
import { clear, cssToken, el } from './dom.js';
import { sevLabel, timeOf } from './format.js';
import { t } from './i18n.js';
import { sevRank } from './vocab.js';
import { whyDetails } from './agent-cards.js';

// an alert from partial text is "provisional" until its final confirms it, or "retracted"
function alertStateBadge(a) {
  if (a.retracted) return el('span', { className: 'state-badge retracted' }, t('alert_retracted'));
  return a.provisional ? el('span', { className: 'state-badge provisional' }, t('alert_provisional')) : null;
}

// The strip: every alert of the shown call, most severe first, unacknowledged before
// acknowledged within a severity, newest first; it never scrolls out of view (CSS sticky).
// ctx: {isAgentView, act(op)}
export function renderAlerts(view, ctx) {
  const list = clear(document.getElementById('alerts'));
  const count = document.getElementById('alertcount');
  const strip = document.getElementById('strip');
  if (!view) { strip.hidden = true; return; }
  strip.hidden = false;
  const acks = (view.actions && view.actions.acks) || {};
  const alerts = [...view.alerts.values()].sort((a, b) =>
    sevRank(b.severity) - sevRank(a.severity) ||
    (acks[a.alert_id] ? 1 : 0) - (acks[b.alert_id] ? 1 : 0) || (b.produced_at || 0) - (a.produced_at || 0));
  const open = alerts.filter((a) => !acks[a.alert_id] && !a.retracted);
  const worst = open[0] ? open[0].severity : '';
  strip.className = 'alert-strip' + (worst ? ' has-open strip-' + cssToken(worst) : '');
  count.textContent = alerts.length ? t('alert_count', { n: alerts.length, u: open.length }) : t('alert_count_none');
  alerts.forEach((a) => {
    const ack = acks[a.alert_id];
    list.append(el('li', {
      className: 'alert sev-' + cssToken(a.severity) + (ack ? ' acked' : '') + (view.flash.has(a.alert_id) ? ' flash' : '')
        + (a.retracted ? ' retracted' : ''),
      dataset: { alert: a.alert_id },
    },
    el('span', { className: 'sev-badge' }, sevLabel(a.severity)),
    a.status === 'check' ? el('span', { className: 'check-badge' }, t('check_badge')) : null, alertStateBadge(a),
    el('span', { className: 'alert-msg' }, a.message),
    a.evidence ? el('q', { className: 'evidence' }, a.evidence) : null,
    el('span', { className: 'rule muted' }, a.rule_id), whyDetails(a.why),
    ack ? el('span', { className: 'ack-state' }, t('acked_by', { who: ack.by_name || ack.by, time: timeOf(ack.at) }))
      : (ctx.isAgentView && view.meta.status === 'live' ? el('button', {
        type: 'button', className: 'small ack',
        onclick: (ev) => { ev.currentTarget.disabled = true; ctx.act({ op: 'ack', call_id: view.meta.call_id, alert_id: a.alert_id }); },
      }, t('ack')) : null)));
  });
}

// Supervisor → agent: "help is coming" and the latest whispers, at the top with the alerts
export function renderSupMsg(view) {
  const box = clear(document.getElementById('supmsg'));
  const acts = (view && view.actions) || {};
  const messages = (acts.messages || []).filter((m) => m.kind === 'whisper' && m.text).slice(-3).reverse();
  box.hidden = !(acts.help || messages.length);
  if (box.hidden) return;
  box.classList.toggle('flash', view.flash.has('supmsg'));
  if (acts.help) box.append(el('div', { className: 'help-coming' }, t('help_coming', { who: acts.help.by_name || acts.help.by })));
  messages.forEach((m) => box.append(el('div', { className: 'whisper-msg' },
    el('span', { className: 'label' }, t('whisper_from', { who: m.by_name || m.by }), ' · ', timeOf(m.at)), ' ',
    el('span', { className: 'whisper-text' }, m.text))));
}
