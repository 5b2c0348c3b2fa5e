// Times, durations and the localised labels of codes (severity, role, state, queue, language).
import { currentLang, has, t } from './i18n.js';

function two(n) { return String(Math.floor(n)).padStart(2, '0'); }
export function clock(sec) { sec = Math.max(0, sec || 0); return two(sec / 60) + ':' + two(sec % 60); }
export function duration(sec) {
  sec = Math.max(0, Math.floor(sec || 0));
  const h = Math.floor(sec / 3600);
  return (h ? h + ':' : '') + two((sec % 3600) / 60) + ':' + two(sec % 60);
}
function locale() { return currentLang() === 'zh' ? 'zh-CN' : 'en-GB'; }
export function dateTime(epoch) {
  if (!epoch) return '—';
  return new Date(epoch * 1000).toLocaleString(locale(), { hour12: false });
}
export function timeOf(epoch) {
  return epoch ? new Date(epoch * 1000).toLocaleTimeString(locale(), { hour12: false }) : '—';
}

// a code's label in the reader's language; the code itself when it has none
export function stateLabel(s) { return has('state_' + s) ? t('state_' + s) : (s || t('state_unknown')); }
export function sevLabel(s) { return has('sev_' + s) ? t('sev_' + s) : s; }
export function roleLabel(r) { return has('role_' + r) ? t('role_' + r) : r; }
export function queueLabel(q) { return q && has('queue_' + q) ? t('queue_' + q) : (q || ''); }
export function langLabel(l) { return l && has('lang_' + l) ? t('lang_' + l) : (l || ''); }
export function channelLabel(ch) { return ch === 'agent' ? t('agent') : ch === 'customer' ? t('customer') : ch; }

// RQ_IDENTITY_CHECK or RQ_IDENTITY_CHECK:deadline → "Identity check" (ids are for rule authors)
export function ruleName(id) {
  const base = String(id || '').split(':')[0].replace(/^(RQ|FB|OR|RULE)_/i, '').replace(/[_.-]+/g, ' ').toLowerCase();
  return base ? base.charAt(0).toUpperCase() + base.slice(1) : '';
}
export function trendArrow(tr) { return tr === 'rising' ? '↗' : tr === 'falling' ? '↘' : '→'; }
