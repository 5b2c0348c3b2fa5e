// Agent panel state: one view per call, mirroring the server's live view (segments keyed by
// segment_id, a final replacing its partials; alerts/suggestions keyed by id; the newest
// emotion per channel; the call's live actions), and the optional alert sound.
import { sevRank } from './vocab.js';

export function viewFrom(snap) {
  const v = {
    meta: snap, v: snap.v, segments: new Map(), alerts: new Map(), suggestions: new Map(),
    emotion: Object.assign({}, snap.emotion || {}), actions: snap.actions || {}, flash: new Set(),
  };
  (snap.segments || []).forEach((s) => v.segments.set(s.segment_id, s));
  (snap.alerts || []).forEach((a) => v.alerts.set(a.alert_id, a));
  (snap.suggestions || []).forEach((s) => v.suggestions.set(s.suggestion_id, s));
  return v;
}

// one "update" message into its view; onAlert(severity) for a new alert
export function applyUpdate(view, msg, onAlert) {
  const item = msg.item;
  if (msg.kind === 'segment') {
    const old = view.segments.get(item.segment_id);
    if (old && old.is_final) return;
    view.segments.set(item.segment_id, item);
    view.changedSeg = (view.changedSeg || new Set()).add(item.segment_id);
  } else if (msg.kind === 'alert') {
    view.alerts.set(item.alert_id, item); view.flash.add(item.alert_id);
    onAlert(view, item.severity);
  } else if (msg.kind === 'suggestion') {
    view.suggestions.set(item.suggestion_id, item); view.flash.add(item.suggestion_id);
  } else if (msg.kind === 'emotion') {
    const cur = view.emotion[item.channel];
    if (!cur || (item.at || 0) >= (cur.at || 0)) view.emotion[item.channel] = item;
  } else if (msg.kind === 'call') {
    Object.assign(view.meta, item);
  } else if (msg.kind === 'action') {
    view.actions = item.actions || {};
    if (item.action && (item.action.kind === 'whisper' || item.action.kind === 'help')) view.flash.add('supmsg');
  }
}

export function byNewest(a, b) { return (b.meta.started_at || 0) - (a.meta.started_at || 0); }

// The alert sound: optional, off by default, remembered per browser.  The AudioContext is
// made on the click that turns it on (browsers allow audio only after a gesture).
export class Sound {
  constructor(debug) { this.on = localStorage.getItem('ca.sound') === 'on'; this.audio = null; this.debug = debug; }
  toggle() {
    this.on = !this.on;
    localStorage.setItem('ca.sound', this.on ? 'on' : 'off');
    if (this.on && !this.audio) { try { this.audio = new AudioContext(); } catch (e) { this.audio = null; } }
  }
  beep(severity) {
    if (!this.on) return;
    this.debug.beeps += 1;
    try {
      this.audio = this.audio || new AudioContext();
      const osc = this.audio.createOscillator();
      const gain = this.audio.createGain();
      osc.frequency.value = (sevRank(severity) || 1) >= 3 ? 880 : 620;
      gain.gain.value = 0.08;
      osc.connect(gain).connect(this.audio.destination);
      osc.start(); osc.stop(this.audio.currentTime + 0.25);
    } catch (e) { /* no audio device: the strip is the cue */ }
  }
}
