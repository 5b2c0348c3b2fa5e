// The reader's language: t() for every string, applyI18n() for [data-i18n] nodes, setLang()
// to switch (remembered per browser), onLang() for pages that re-render on a switch.
import { I18N } from './strings.js';

let lang = localStorage.getItem('ca.lang') || ((navigator.language || 'en').startsWith('zh') ? 'zh' : 'en');
const langListeners = [];

export function currentLang() { return lang; }
export { currentLang as lang };

export function t(key, vars) {
  // English plural: a "<key>_one" entry is used when vars.n is 1
  // (Chinese has no plural: a language without the "_one" entry keeps the plain one)
  if (vars && vars.n === 1 && (I18N[lang] || I18N.en)[key + '_one']) key += '_one';
  let s = (I18N[lang] && I18N[lang][key]) || I18N.en[key] || key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replace('{' + k + '}', String(v));
  return s;
}

// true when `key` is a known string (labels fall back to the code itself otherwise)
export function has(key) { return Object.prototype.hasOwnProperty.call(I18N.en, key); }

export function applyI18n(root) {
  (root || document).querySelectorAll('[data-i18n]').forEach((n) => { n.textContent = t(n.dataset.i18n); });
  (root || document).querySelectorAll('[data-i18n-placeholder]').forEach((n) => {
    n.setAttribute('placeholder', t(n.dataset.i18nPlaceholder));
  });
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  const titleKey = document.body && document.body.dataset.titleKey;
  if (titleKey) document.title = titleKey === 'brand' ? t('brand') : 'callassist · ' + t(titleKey);
}

export function setLang(next) {
  lang = next;
  localStorage.setItem('ca.lang', lang);
  applyI18n();
  langListeners.forEach((f) => f());
}

export function onLang(f) { langListeners.push(f); }

// a copy of one language's dictionary (for the localisation test)
export function strings(which) { return Object.assign({}, I18N[which] || {}); }
