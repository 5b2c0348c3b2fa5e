// QA call page: the recording, in sync with the transcript.  Playback is audited by the server
// (POST …/playback) before a ticket URL is given; spoken personal data is replaced by a tone
// in what plays.  The current line follows the audio; the curve shows the playhead.
import { api } from './api.js';
import { clear, el } from './dom.js';
import { t } from './i18n.js';

export class Player {
  constructor(callId, audio, curveX) {
    this.callId = callId;
    this.audio = audio;
    this.curveX = curveX; // () => call time → x on the emotion curve, or null
    this.ticket = null; // {url} once the server audited this playback
    this.state = 'idle'; // idle | ready | none
    audio.addEventListener('timeupdate', () => this.follow());
    audio.addEventListener('seeked', () => this.follow());
  }

  async ensureAudio() {
    if (this.ticket) return true;
    const r = await api('/api/qa/calls/' + encodeURIComponent(this.callId) + '/playback', { method: 'POST' });
    if (!r.ok) { this.state = 'none'; this.render(); return false; }
    this.ticket = r.body; this.state = 'ready';
    this.audio.src = this.ticket.url;
    this.render();
    return true;
  }

  async playFrom(sec) {
    if (!(await this.ensureAudio())) return;
    const audio = this.audio;
    const seek = () => { audio.currentTime = Math.max(0, sec); audio.play().catch(() => {}); };
    if (audio.readyState >= 1) seek(); else audio.addEventListener('loadedmetadata', seek, { once: true });
  }

  render() {
    const box = clear(document.getElementById('playerbar'));
    box.hidden = false;
    if (this.state === 'none') { box.append(el('span', { className: 'muted' }, t('no_recording'))); return; }
    if (this.state === 'idle') {
      box.append(el('button', { type: 'button', className: 'primary', id: 'play', onclick: () => this.playFrom(0) }, '▶ ' + t('play_recording')));
    }
    box.append(el('span', { className: 'muted small-note' }, t('recording_redacted')));
  }

  follow() {
    const now = this.audio.currentTime;
    let current = null;
    document.querySelectorAll('#transcript li.seg').forEach((li) => {
      const on = Number(li.dataset.start) <= now + 0.05 && now < Number(li.dataset.end) + 0.3;
      li.classList.toggle('current', on);
      if (on) current = li;
    });
    if (current && !current.dataset.seen) {
      document.querySelectorAll('#transcript li.seg[data-seen]').forEach((li) => { delete li.dataset.seen; });
      current.dataset.seen = '1';
      current.scrollIntoView({ block: 'nearest' });
    }
    const head = document.querySelector('#curve .playhead');
    const x = this.curveX();
    if (head && x) { head.setAttribute('x1', x(now)); head.setAttribute('x2', x(now)); }
  }
}
