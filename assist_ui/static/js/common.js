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
      kb_search: 'Knowledge base', kb_search_placeholder: 'Search articles (中文 or English)', kb_search_go: 'Search',
      kb_no_results: 'No article found', kb_confidence: '{pct}% sure',
      kb_feedback: 'Was this useful?', kb_useful: 'Useful', kb_not_useful: 'Not useful',
      kb_feedback_thanks: 'Thanks, noted', kb_feedback_failed: 'Not saved, try again',
      kb_report: 'Knowledge base: suggestions by hit rate and feedback',
      kb_report_hint: 'Hit rate = marked useful / times suggested. Worst first.', kb_report_kind: 'Kind',
      kb_report_entry: 'Entry', kb_report_suggested: 'Suggested', kb_report_hit_rate: 'Hit rate',
      kb_report_kb: 'KB reply', kb_report_empty: 'No suggestions stored yet',
      duration: 'Duration', no_alerts: 'No alerts', no_suggestions: 'No suggestions yet', no_strategy: 'No strategy needed yet', why: 'Why?', check_badge: 'check', alert_provisional: 'provisional', alert_retracted: 'retracted',
      play_recording: 'Play recording', play_from: 'Play from here', no_recording: 'No recording of this call',
      recording_redacted: 'Spoken personal data is replaced by a tone.', missing_title: 'Not done by the deadline',
      deadline_at: 'deadline {t}', summary_title: 'Call summary', sum_reason: 'Reason for calling',
      sum_asked: 'Customer asked', sum_committed: 'Agent committed to', sum_outcome: 'Outcome', sum_alerts: 'Alerts',
      sum_emotion: 'Customer emotion', sum_none: 'nothing found', scorecard_title: 'Scorecard',
      sc_item: 'Item', sc_auto: 'Automatic', sc_final: 'Score', sc_total: 'Total', sc_save: 'Override',
      sc_overridden: 'overridden by {who}', sc_note: 'Why', export_csv: 'Export CSV',
      trend_rising: 'rising', trend_falling: 'falling', trend_steady: 'steady', arousal: 'Agitation',
      state_neutral: 'Neutral', state_angry: 'Angry', state_sad: 'Sad', state_happy: 'Happy', state_agitated: 'Agitated',
      state_calm: 'Calm', state_upset: 'Upset', state_raised: 'Voice raised', state_unknown: 'Unknown',
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

      // agent panel: alert strip, history, live actions
      ack: 'Acknowledge', acked: 'Acknowledged', acked_by: 'Acknowledged by {who} · {time}',
      alert_count: '{n} alerts · {u} to acknowledge', alert_count_one: '1 alert · {u} to acknowledge',
      alert_count_none: 'No alerts on this call', sound_on: 'Sound: on', sound_off: 'Sound: off',
      history: 'Earlier calls ({n})', history_one: 'Earlier call (1)', viewing_ended: 'You are looking at an ended call.',
      back_to_live: 'Back to the live call', wrapup: 'Call ended — wrap-up',
      no_live_now: 'No live call right now. The next call opens here as soon as it starts.',
      raise_hand: 'Raise hand', lower_hand: 'Lower hand', hand_raised: 'Hand raised — the supervisors see it',
      help_coming: 'Help is coming — {who}', whisper_from: '{who}', whisper_label: 'Message to the agent',
      whisper_placeholder: 'Only the agent on the call sees it', whisper_send: 'Send', help_coming_send: 'Help is coming',
      sent: 'Sent ✓', not_stored: 'Not saved (QA store unavailable); try again.', action_failed: 'Not sent: {msg}',
      unknown_call: 'No live call with the id “{id}”. It may have ended or never started; this page updates if it starts.',
      unknown_call_qa: 'Open its QA review', ended_at: 'Ended', alerts_short: 'Alerts',
      role_agent: 'Agent', role_supervisor: 'Supervisor', role_qa: 'QA',
      // QA pages
      qa_call_title: 'QA call', live_actions: 'During the call', no_live_actions: 'Nothing was done on the live call.',
      action_ack: 'acknowledged', action_whisper: 'whispered', action_help: 'sent help', action_raise_hand: 'raised a hand',
      action_lower_hand: 'lowered the hand', acked_live: 'Acknowledged live by {who} at {time}', not_acked: 'Not acknowledged on the call',
      reason_alert: '{sev}: {rule} ({channel})', reason_at: ' at {s} s', reason_said: ': “{text}”',
      reason_agitated_share: 'customer agitated in {pct} of the call', reason_agitated_end: 'customer still agitated at the end of the call',
      reason_peak: 'customer arousal peaked at {v}', reason_said_cue: 'customer said “{text}”', reason_repeated: '{rule} fired {n} times',
      ctx_customer_tier: 'Tier', ctx_account_ref: 'Account', ctx_policy_ref: 'Policy', ctx_ivr_intent: 'IVR',
      call_state_hold: 'On hold', call_state_muted: 'Muted', talk_over: 'Talk-over',
      // supervisor wall
      wall_search: 'Search', wall_search_hint: 'Call, agent, customer, alert…', wall_state: 'State',
      group_by_queue: 'Group by queue', showing: '{n} of {total} live calls', no_open_alerts: 'No open alert',
      hand_raised_short: 'Hand raised', help_sent: 'Help on the way',
      // codes from the platform: shown localised, the code itself when unknown
      queue_wealth: 'Wealth management', queue_billing: 'Billing', queue_cards: 'Cards', queue_loans: 'Loans',
      queue_claims: 'Claims', queue_policy: 'Policies', queue_general: 'General', queue_retention: 'Retention',
      lang_zh: 'Chinese', lang_en: 'English', lang_yue: 'Cantonese',
    },
    zh: {
      brand: 'callassist 坐席助手', nav_agent: '坐席面板', nav_supervisor: '班长监控墙', nav_qa: '质检复核',
      sign_in: '登录', sign_out: '退出', token: '访问令牌', sign_in_hint: '请输入分配给您的令牌。',
      bad_token: '令牌无效。', lang_toggle: 'English', connected: '已连接', reconnecting: '正在重连…', offline: '离线',
      transcript: '实时转写', emotion: '客户情绪', strategy: '应对策略', alerts: '合规提醒', suggestions: '推荐话术',
      copy: '复制', copied: '已复制 ✓', no_calls: '当前没有分配给您的通话。通话开始后此面板会立即更新。',
      call_not_available: '您无权查看此通话。', waiting_call: '等待此通话开始…', agent: '坐席', customer: '客户',
      live: '通话中', ended: '已结束', queue: '队列', language: '语言', duration: '时长', no_alerts: '暂无提醒',
      play_recording: '播放录音', play_from: '从这里播放', no_recording: '此通话没有录音',
      recording_redacted: '录音中说出的个人信息已用提示音替换。', missing_title: '未在规定时间内完成',
      deadline_at: '截止 {t}', summary_title: '通话摘要', sum_reason: '来电原因',
      sum_asked: '客户诉求', sum_committed: '坐席承诺', sum_outcome: '结果', sum_alerts: '提醒',
      sum_emotion: '客户情绪', sum_none: '无', scorecard_title: '质检评分表',
      sc_item: '项目', sc_auto: '自动评分', sc_final: '得分', sc_total: '总分', sc_save: '改分',
      sc_overridden: '{who} 已改分', sc_note: '原因', export_csv: '导出 CSV',
      kb_search: '知识库', kb_search_placeholder: '搜索知识库（中文或英文）', kb_search_go: '搜索',
      kb_no_results: '未找到相关文章', kb_confidence: '匹配度 {pct}%',
      kb_feedback: '这条推荐有用吗？', kb_useful: '有用', kb_not_useful: '没用',
      kb_feedback_thanks: '已记录，谢谢', kb_feedback_failed: '未保存，请重试',
      kb_report: '知识库：推荐命中率与反馈',
      kb_report_hint: '命中率 = 标为有用次数 / 推荐次数，最差的排在最前。', kb_report_kind: '类型',
      kb_report_entry: '条目', kb_report_suggested: '推荐次数', kb_report_hit_rate: '命中率',
      kb_report_kb: '知识库回复', kb_report_empty: '暂无已存储的推荐',
      no_suggestions: '暂无推荐', no_strategy: '暂不需要特别策略', why: '依据', check_badge: '待核查', alert_provisional: '待确认', alert_retracted: '已撤回', trend_rising: '上升', trend_falling: '下降',
      trend_steady: '平稳', arousal: '激动程度', state_neutral: '平静', state_angry: '愤怒', state_sad: '低落',
      state_happy: '愉快', state_agitated: '激动', state_calm: '平和', state_upset: '不满', state_raised: '语调升高', state_unknown: '未知',
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

      ack: '确认', acked: '已确认', acked_by: '{who} 已确认 · {time}',
      alert_count: '{n} 条提醒 · {u} 条待确认', alert_count_none: '本通话暂无提醒', sound_on: '提示音：开',
      sound_off: '提示音：关', history: '之前的通话（{n}）', viewing_ended: '您正在查看一通已结束的通话。',
      back_to_live: '返回当前通话', wrapup: '通话已结束 — 话后处理',
      no_live_now: '当前没有进行中的通话。下一通电话开始时会立即显示在这里。',
      raise_hand: '举手求助', lower_hand: '放下', hand_raised: '已举手 — 班长已看到',
      help_coming: '{who} 马上来协助', whisper_from: '{who}', whisper_label: '发给坐席的消息',
      whisper_placeholder: '只有通话中的坐席能看到', whisper_send: '发送', help_coming_send: '马上来协助',
      sent: '已发送 ✓', not_stored: '未保存（质检库不可用），请重试。', action_failed: '未发送：{msg}',
      unknown_call: '没有编号为“{id}”的进行中通话。它可能已结束或尚未开始；如果开始，本页会自动更新。',
      unknown_call_qa: '打开质检复核', ended_at: '结束时间', alerts_short: '提醒',
      role_agent: '坐席', role_supervisor: '班长', role_qa: '质检',
      qa_call_title: '质检通话', live_actions: '通话中的操作', no_live_actions: '通话中没有任何操作。',
      action_ack: '确认了提醒', action_whisper: '发送了消息', action_help: '派人协助', action_raise_hand: '举手求助',
      action_lower_hand: '放下了手', acked_live: '{who} 于 {time} 在通话中确认', not_acked: '通话中未确认',
      reason_alert: '{sev}：{rule}（{channel}）', reason_at: '，第 {s} 秒', reason_said: '：“{text}”',
      reason_agitated_share: '客户在 {pct} 的通话时间里情绪激动', reason_agitated_end: '通话结束时客户仍然情绪激动',
      reason_peak: '客户激动程度峰值 {v}', reason_said_cue: '客户说：“{text}”', reason_repeated: '{rule} 触发了 {n} 次',
      ctx_customer_tier: '客户等级', ctx_account_ref: '账户', ctx_policy_ref: '保单', ctx_ivr_intent: 'IVR 意图',
      call_state_hold: '保持中', call_state_muted: '静音中', talk_over: '抢话',
      wall_search: '搜索', wall_search_hint: '通话、坐席、客户、提醒…', wall_state: '状态',
      group_by_queue: '按队列分组', showing: '显示 {n} / {total} 通', no_open_alerts: '无未处理提醒',
      hand_raised_short: '举手', help_sent: '已派人协助',
      queue_wealth: '理财', queue_billing: '账单', queue_cards: '信用卡', queue_loans: '贷款',
      queue_claims: '理赔', queue_policy: '保单', queue_general: '综合', queue_retention: '挽留',
      lang_zh: '中文', lang_en: '英文', lang_yue: '粤语',
    },
  };

  let lang = localStorage.getItem('ca.lang') || ((navigator.language || 'en').startsWith('zh') ? 'zh' : 'en');
  const langListeners = [];

  function t(key, vars) {
    // English plural: a "<key>_one" entry is used when vars.n is 1
    // (Chinese has no plural: a language without the "_one" entry keeps the plain one)
    if (vars && vars.n === 1 && (I18N[lang] || I18N.en)[key + '_one']) key += '_one';
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
    const titleKey = document.body && document.body.dataset.titleKey;
    if (titleKey) document.title = titleKey === 'brand' ? t('brand') : 'callassist · ' + t(titleKey);
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
  function queueLabel(q) { return q && I18N.en['queue_' + q] ? t('queue_' + q) : (q || ''); }
  function langLabel(l) { return l && I18N.en['lang_' + l] ? t('lang_' + l) : (l || ''); }
  // Risk reasons arrive as English sentences from streams/assist/risk.py (score_call); the known
  // shapes are shown in the reader's language, anything else as it came.
  const REASONS = [
    [/^(low|medium|high|critical) (\S+) \((agent|customer)\)(?: at (\d+)s)?(?:: “([\s\S]*)”)?$/, (m) =>
      t('reason_alert', { sev: sevLabel(m[1]), rule: m[2], channel: t(m[3]) }) +
      (m[4] ? t('reason_at', { s: m[4] }) : '') + (m[5] !== undefined ? t('reason_said', { text: m[5] }) : '')],
    [/^customer agitated in (\d+%) of the call$/, (m) => t('reason_agitated_share', { pct: m[1] })],
    [/^customer still agitated at the end of the call$/, () => t('reason_agitated_end')],
    [/^customer arousal peaked at ([\d.]+)$/, (m) => t('reason_peak', { v: m[1] })],
    [/^customer said “([\s\S]*)”$/, (m) => t('reason_said_cue', { text: m[1] })],
    [/^(\S+) fired (\d+) times$/, (m) => t('reason_repeated', { rule: m[1], n: m[2] })],
  ];
  function reasonLabel(text) {
    for (const [re, fmt] of REASONS) { const m = re.exec(String(text)); if (m) return fmt(m); }
    return String(text);
  }
  // RQ_IDENTITY_CHECK or RQ_IDENTITY_CHECK:deadline → "Identity check" (ids are for rule authors)
  function ruleName(id) {
    const base = String(id || '').split(':')[0].replace(/^(RQ|FB|OR|RULE)_/i, '').replace(/[_.-]+/g, ' ').toLowerCase();
    return base ? base.charAt(0).toUpperCase() + base.slice(1) : '';
  }
  function roleLabel(r) { return I18N.en['role_' + r] ? t('role_' + r) : r; }
  function timeOf(epoch) {
    return epoch ? new Date(epoch * 1000).toLocaleTimeString(lang === 'zh' ? 'zh-CN' : 'en-GB', { hour12: false }) : '—';
  }
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
        el('span', { className: 'role role-' + cssToken(user.role), dataset: { role: user.role } }, roleLabel(user.role)));
      box.title = user.name;
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
  langListeners.push(() => document.querySelectorAll('.role[data-role]').forEach((n) => {
    n.textContent = roleLabel(n.dataset.role);
  }));

  async function copyText(text) {
    try { await navigator.clipboard.writeText(text); return true; } catch (e) {
      const ta = el('textarea', { className: 'offscreen' }, text);
      document.body.appendChild(ta); ta.select();
      const ok = document.execCommand('copy'); ta.remove(); return ok;
    }
  }

  return {
    t, el, clear, applyI18n, setLang, onLang: (f) => langListeners.push(f), lang: () => lang,
    clock, duration, dateTime, timeOf, stateLabel, sevLabel, roleLabel, queueLabel, langLabel, reasonLabel, trendArrow, cssToken, ruleName,
    token, api, requireUser, initChrome, LiveSocket, connStatus, copyText,
    strings: (which) => Object.assign({}, I18N[which] || {}), // for the localisation test
    // the one source of these vocabularies for every page
    SEV_RANK: { low: 1, medium: 2, high: 3, critical: 4 },
    SEVERITIES: ['critical', 'high', 'medium', 'low'],
    ROLES: ['agent', 'supervisor', 'qa'],
  };
})();
