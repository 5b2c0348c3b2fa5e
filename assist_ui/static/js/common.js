// callassist pages: shared helpers (i18n, sign-in, API, live socket, DOM building).
// Security rule for every page: text from the server is only ever put in the DOM through
// textContent / createTextNode (see el()); no innerHTML with data, no inline scripts.
'use strict';

const CA = (() => {
  const I18N = {
    en: {
      brand: 'callassist', nav_agent: 'Agent panel', nav_supervisor: 'Supervisor wall', nav_qa: 'QA review',
      sign_in: 'Sign in', sign_out: 'Sign out', token: 'Access token', sign_in_hint: 'Enter the token you were given.',
      bad_token: 'That token was not accepted.', lang_toggle: '中文', connected: 'Live', reconnecting: 'Reconnecting…',
      offline: 'Offline', transcript: 'Transcript', emotion: 'Customer emotion', strategy: 'Response strategy',
      alerts: 'Compliance alerts', suggestions: 'Suggested replies', copy: 'Copy', copied: 'Copied ✓',
      no_calls: 'No live call assigned to you right now. This panel updates as soon as one starts.',
      call_not_available: 'This call is not available to you.', waiting_call: 'Waiting for this call to start…',
      agent: 'Agent', customer: 'Customer', live: 'LIVE', ended: 'ENDED', queue: 'Queue', language: 'Language',
      duration: 'Duration', no_alerts: 'No alerts', no_suggestions: 'No suggestions yet', no_strategy: 'No strategy needed yet', why: 'Why?', check_badge: 'check', alert_provisional: 'provisional', alert_retracted: 'retracted',
      trend_rising: 'rising', trend_falling: 'falling', trend_steady: 'steady', arousal: 'Agitation',
      state_neutral: 'Neutral', state_angry: 'Angry', state_sad: 'Sad', state_happy: 'Happy', state_agitated: 'Agitated',
      state_calm: 'Calm', state_upset: 'Upset', state_unknown: 'Unknown',
      sev_low: 'Low', sev_medium: 'Medium', sev_high: 'High', sev_critical: 'Critical',
      wall_title: 'Live calls', live_count: '{n} live calls', live_count_one: '1 live call', call: 'Call', status: 'Status', open_alerts: 'Open alerts', n_alerts: '{n} alerts', n_alerts_one: '1 alert', review_title: 'Review',
      last_alert: 'Last alert', silence: 'Silence', open_view: 'Open live view', no_live_calls: 'No live calls.',
      qa_title: 'Calls ranked by risk', risk: 'Risk', started: 'Started', rules: 'Rules', reviewed: 'Reviewed',
      filter_agent: 'Agent', filter_language: 'Language', filter_rule: 'Rule', filter_severity: 'Min. severity',
      filter_from: 'From', filter_to: 'To', filter_q: 'Search transcript', filter_reviewed: 'Review status',
      filter_sort: 'Sort', any: 'Any', apply: 'Apply', reset: 'Reset', sort_risk: 'Risk', sort_newest: 'Newest',
      sort_longest: 'Longest', reviewed_yes: 'Reviewed', reviewed_no: 'Not reviewed', prev: '‹ Previous', next: 'Next ›',
      results: '{n} calls', results_one: '1 call', no_results: 'No calls match these filters.', back_to_list: '‹ Back to the list',
      reasons: 'Why it is risky', emotion_curve: 'Emotion curve (agitation over the call)', violations: 'Violations',
      suggested: 'Suggested', evidence: 'Evidence', verdict: 'Verdict', true_positive: 'True positive',
      false_positive: 'False positive', note: 'Note (optional)', mark_reviewed: 'Mark reviewed', saved: 'Saved ✓',
      reviews: 'Reviews', call_verdict: 'Whole call', by: 'by', not_found: 'Call not found.', loading: 'Loading…',
      forbidden: 'Your role cannot open this page.', error: 'Something went wrong: {msg}', index_title: 'Sign in to callassist',
      open: 'Open', partial: 'speaking…', customer_id: 'Customer', strategy_hint: 'Strategy',
    },
    zh: {
      brand: 'callassist 坐席助手', nav_agent: '坐席面板', nav_supervisor: '班长监控墙', nav_qa: '质检复核',
      sign_in: '登录', sign_out: '退出', token: '访问令牌', sign_in_hint: '请输入分配给您的令牌。',
      bad_token: '令牌无效。', lang_toggle: 'English', connected: '已连接', reconnecting: '正在重连…', offline: '离线',
      transcript: '实时转写', emotion: '客户情绪', strategy: '应对策略', alerts: '合规提醒', suggestions: '推荐话术',
      copy: '复制', copied: '已复制 ✓', no_calls: '当前没有分配给您的通话。通话开始后此面板会立即更新。',
      call_not_available: '您无权查看此通话。', waiting_call: '等待此通话开始…', agent: '坐席', customer: '客户',
      live: '通话中', ended: '已结束', queue: '队列', language: '语言', duration: '时长', no_alerts: '暂无提醒',
      no_suggestions: '暂无推荐', no_strategy: '暂不需要特别策略', why: '依据', check_badge: '待核查', alert_provisional: '待确认', alert_retracted: '已撤回', trend_rising: '上升', trend_falling: '下降',
      trend_steady: '平稳', arousal: '激动程度', state_neutral: '平静', state_angry: '愤怒', state_sad: '低落',
      state_happy: '愉快', state_agitated: '激动', state_calm: '平和', state_upset: '不满', state_unknown: '未知',
      sev_low: '低', sev_medium: '中', sev_high: '高', sev_critical: '严重', wall_title: '实时通话', live_count: '进行中 {n} 通', live_count_one: '进行中 1 通',
      call: '通话', status: '状态', open_alerts: '未处理提醒', n_alerts: '{n} 条提醒', n_alerts_one: '1 条提醒', review_title: '复核', last_alert: '最新提醒', silence: '静默', open_view: '查看实时',
      no_live_calls: '当前没有通话。', qa_title: '按风险排序的通话', risk: '风险', started: '开始时间', rules: '规则',
      reviewed: '复核', filter_agent: '坐席', filter_language: '语言', filter_rule: '规则', filter_severity: '最低严重度',
      filter_from: '起始日期', filter_to: '截止日期', filter_q: '搜索转写文本', filter_reviewed: '复核状态',
      filter_sort: '排序', any: '全部', apply: '筛选', reset: '重置', sort_risk: '风险', sort_newest: '最新',
      sort_longest: '最长', reviewed_yes: '已复核', reviewed_no: '未复核', prev: '‹ 上一页', next: '下一页 ›',
      results: '共 {n} 通', results_one: '共 1 通', no_results: '没有符合条件的通话。', back_to_list: '‹ 返回列表', reasons: '风险原因',
      emotion_curve: '情绪曲线（通话中的激动程度）', violations: '违规', suggested: '推荐', evidence: '证据',
      verdict: '结论', true_positive: '确认违规', false_positive: '误报', note: '备注（可选）', mark_reviewed: '标记已复核',
      saved: '已保存 ✓', reviews: '复核记录', call_verdict: '整通通话', by: '复核人', not_found: '找不到该通话。',
      loading: '加载中…', forbidden: '您的角色无权打开此页面。', error: '出错了：{msg}', index_title: '登录 callassist',
      open: '打开', partial: '说话中…', customer_id: '客户', strategy_hint: '策略',
    },
  };

  let lang = localStorage.getItem('ca.lang') || ((navigator.language || 'en').startsWith('zh') ? 'zh' : 'en');
  const langListeners = [];

  function t(key, vars) {
    // English plural: a "<key>_one" entry is used when vars.n is 1
    if (vars && vars.n === 1 && I18N.en[key + '_one']) key += '_one';
    let s = (I18N[lang] && I18N[lang][key]) || I18N.en[key] || key;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.replace('{' + k + '}', String(v));
    return s;
  }

  function applyI18n(root) {
    (root || document).querySelectorAll('[data-i18n]').forEach((n) => { n.textContent = t(n.dataset.i18n); });
    (root || document).querySelectorAll('[data-i18n-placeholder]').forEach((n) => {
      n.setAttribute('placeholder', t(n.dataset.i18nPlaceholder));
    });
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  }

  function setLang(next) {
    lang = next;
    localStorage.setItem('ca.lang', lang);
    applyI18n();
    langListeners.forEach((f) => f());
  }

  // el('div', {className: 'x', dataset: {id: 1}, title: 'y', onclick: f}, 'text', childNode, ...)
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'className') node.className = v;
      else if (k === 'dataset') Object.assign(node.dataset, v);
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else if (k === 'href') node.setAttribute('href', safeHref(v));
      else node.setAttribute(k, String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      node.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function safeHref(v) {
    // only same-site relative links are ever built from data
    const s = String(v);
    return s.startsWith('/') && !s.startsWith('//') ? s : '#';
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  // -- formatting ---------------------------------------------------------------
  function two(n) { return String(Math.floor(n)).padStart(2, '0'); }
  function clock(sec) { sec = Math.max(0, sec || 0); return two(sec / 60) + ':' + two(sec % 60); }
  function duration(sec) {
    sec = Math.max(0, Math.floor(sec || 0));
    const h = Math.floor(sec / 3600);
    return (h ? h + ':' : '') + two((sec % 3600) / 60) + ':' + two(sec % 60);
  }
  function dateTime(epoch) {
    if (!epoch) return '—';
    return new Date(epoch * 1000).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-GB', { hour12: false });
  }
  function stateLabel(s) { return I18N.en['state_' + s] ? t('state_' + s) : (s || t('state_unknown')); }
  function sevLabel(s) { return I18N.en['sev_' + s] ? t('sev_' + s) : s; }
  function trendArrow(tr) { return tr === 'rising' ? '↗' : tr === 'falling' ? '↘' : '→'; }
  function cssToken(s) { return String(s || '').toLowerCase().replace(/[^a-z0-9_-]/g, ''); }

  // -- auth -------------------------------------------------------------------------
  const TOKEN_KEY = 'ca.token';
  function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
  function signOut() { sessionStorage.removeItem(TOKEN_KEY); location.reload(); }

  async function api(path, opts) {
    const res = await fetch(path, Object.assign({}, opts || {}, {
      headers: { Authorization: 'Bearer ' + token() }, cache: 'no-store',
    }));
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (res.status === 401) { sessionStorage.removeItem(TOKEN_KEY); }
    return { ok: res.ok, status: res.status, body };
  }

  // Shows the sign-in form until a token is accepted; resolves with the user.
  function requireUser() {
    return new Promise((resolve) => {
      const form = document.getElementById('signin');
      const app = document.getElementById('app');
      const tryToken = async () => {
        const r = await api('/api/me');
        if (r.ok) {
          form.hidden = true; app.hidden = false; showUser(r.body); resolve(r.body); return true;
        }
        return false;
      };
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const input = form.querySelector('input[name=token]');
        sessionStorage.setItem(TOKEN_KEY, input.value.trim());
        input.value = '';
        if (!(await tryToken())) {
          sessionStorage.removeItem(TOKEN_KEY);
          form.querySelector('.form-error').textContent = t('bad_token');
        }
      });
      (token() ? tryToken() : Promise.resolve(false)).then((ok) => {
        if (!ok) { form.hidden = false; app.hidden = true; form.querySelector('input').focus(); }
      });
    });
  }

  function showUser(user) {
    const box = document.getElementById('user');
    if (box) {
      clear(box).append(el('span', { className: 'user-name' }, user.name),
        el('span', { className: 'role role-' + cssToken(user.role) }, user.role));
    }
    document.querySelectorAll('[data-roles]').forEach((n) => {
      n.hidden = !n.dataset.roles.split(' ').includes(user.role);
    });
    const out = document.getElementById('signout');
    if (out) out.hidden = false;
  }

  function initChrome() {
    applyI18n();
    const toggle = document.getElementById('lang');
    if (toggle) toggle.addEventListener('click', () => setLang(lang === 'zh' ? 'en' : 'zh'));
    const out = document.getElementById('signout');
    if (out) out.addEventListener('click', signOut);
  }

  // -- live socket ------------------------------------------------------------------------
  // Reconnects with back-off; re-sends auth and the ops in `resubscribe` after every
  // reconnect, so the server answers with fresh snapshots (how a dropped slow client heals).
  class LiveSocket {
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
        if (ev.code === 4401) { this.onStatus('offline'); sessionStorage.removeItem(TOKEN_KEY); location.reload(); return; }
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
  function connStatus(state) {
    const n = document.getElementById('conn');
    if (!n || !state) return;
    connState = state;
    n.className = 'conn conn-' + state;
    n.textContent = t(state);
  }
  langListeners.push(() => connStatus(connState));

  async function copyText(text) {
    try { await navigator.clipboard.writeText(text); return true; } catch (e) {
      const ta = el('textarea', { className: 'offscreen' }, text);
      document.body.appendChild(ta); ta.select();
      const ok = document.execCommand('copy'); ta.remove(); return ok;
    }
  }

  return {
    t, el, clear, applyI18n, setLang, onLang: (f) => langListeners.push(f), lang: () => lang,
    clock, duration, dateTime, stateLabel, sevLabel, trendArrow, cssToken,
    token, api, requireUser, initChrome, LiveSocket, connStatus, copyText,
    SEV_RANK: { low: 1, medium: 2, high: 3, critical: 4 },
  };
})();
