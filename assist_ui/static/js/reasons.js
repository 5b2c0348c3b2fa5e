// Why a stored call is risky, in the reader's language.
//
// A summary from streams/assist/risk.py carries `risk_reasons`: objects
// {code, text, rule_id, severity, channel, status, at, evidence, value} with code one of
// alert | repeated | agitated_share | agitated_end | arousal_peak | said_cue (`at` is call
// seconds, -1 for none; `value` is the share 0..1, the peak arousal or the repeat count).
// They are shown by code.  Calls stored before that carry only `reasons`, English sentences:
// the known shapes are parsed back, anything else is shown as it came.
import { t } from './i18n.js';
import { sevLabel } from './format.js';

const CODES = {
  alert: (r) => t('reason_alert', { sev: sevLabel(r.severity), rule: r.rule_id, channel: t(r.channel) }) +
    (r.status === 'check' ? ' (' + t('check_badge') + ')' : '') +
    (typeof r.at === 'number' && r.at >= 0 ? t('reason_at', { s: Math.round(r.at) }) : '') +
    (r.evidence ? t('reason_said', { text: r.evidence }) : ''),
  repeated: (r) => t('reason_repeated', { rule: r.rule_id, n: r.value }),
  agitated_share: (r) => t('reason_agitated_share', { pct: Math.round(Number(r.value) * 100) + '%' }),
  agitated_end: () => t('reason_agitated_end'),
  arousal_peak: (r) => t('reason_peak', { v: Number(r.value).toFixed(2) }),
  said_cue: (r) => t('reason_said_cue', { text: r.evidence || '' }),
};

// one structured reason → its sentence (the English `text` for a code this page does not know)
export function riskReasonLabel(r) {
  const fmt = r && CODES[r.code];
  return fmt ? fmt(r) : String((r && r.text) || '');
}

const SENTENCES = [
  [/^(low|medium|high|critical) (\S+) \((agent|customer)\)(?: at (\d+)s)?(?:: “([\s\S]*)”)?$/, (m) =>
    t('reason_alert', { sev: sevLabel(m[1]), rule: m[2], channel: t(m[3]) }) +
    (m[4] ? t('reason_at', { s: m[4] }) : '') + (m[5] !== undefined ? t('reason_said', { text: m[5] }) : '')],
  [/^customer agitated in (\d+%) of the call$/, (m) => t('reason_agitated_share', { pct: m[1] })],
  [/^customer still agitated at the end of the call$/, () => t('reason_agitated_end')],
  [/^customer arousal peaked at ([\d.]+)$/, (m) => t('reason_peak', { v: m[1] })],
  [/^customer said “([\s\S]*)”$/, (m) => t('reason_said_cue', { text: m[1] })],
  [/^(\S+) fired (\d+) times$/, (m) => t('reason_repeated', { rule: m[1], n: m[2] })],
];

// one English sentence (old stored calls) → the reader's language
export function reasonLabel(text) {
  for (const [re, fmt] of SENTENCES) { const m = re.exec(String(text)); if (m) return fmt(m); }
  return String(text);
}

// a stored call's reasons as [{label, title}] (title: the English original), data first
export function callReasons(call) {
  const data = (call && call.risk_reasons) || [];
  if (data.length) return data.map((r) => ({ label: riskReasonLabel(r), title: String(r.text || '') }));
  return ((call && call.reasons) || []).map((x) => ({ label: reasonLabel(x), title: String(x) }));
}
