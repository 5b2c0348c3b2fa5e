// The live socket (/ws) and the header's connection state.
import { forgetToken, token } from './api.js';
import { onLang, t } from './i18n.js';

// Reconnects with back-off; re-sends auth and the ops in `resubscribe` after every
// reconnect, so the server answers with fresh snapshots (how a dropped slow client heals).
export class LiveSocket {
  constructor(onMessage, onStatus) {
    this.onMessage = onMessage; this.onStatus = onStatus || (() => {});
    this.resubscribe = []; this.backoff = 500; this.ws = null; this.closedForGood = false;
  }
  connect() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(proto + '//' + location.host + '/ws');
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ op: 'auth', token: token() }));
      this.resubscribe.forEach((op) => ws.send(JSON.stringify(op)));
    };
    ws.onmessage = (ev) => {
      let msg; try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.type === 'hello') { this.backoff = 500; this.onStatus('connected'); }
      this.onMessage(msg);
    };
    ws.onclose = (ev) => {
      if (ev.code === 4401) { this.onStatus('offline'); forgetToken(); location.reload(); return; }
      if (this.closedForGood) return;
      this.onStatus('reconnecting');
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 8000);
    };
  }
  send(op, remember) {
    if (remember) this.resubscribe.push(op);
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(op));
  }
}

let connState = '';
export function connStatus(state) {
  const n = document.getElementById('conn');
  if (!n || !state) return;
  connState = state;
  n.className = 'conn conn-' + state;
  n.textContent = t(state);
}
onLang(() => connStatus(connState));
