// DOM building.  Security rule for every page: text from the server is only ever put in the
// DOM through textContent / createTextNode (see el()); no innerHTML with data, no inline scripts.

// el('div', {className: 'x', dataset: {id: 1}, title: 'y', onclick: f}, 'text', childNode, ...)
export function el(tag, props, ...children) {
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

export function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

export function cssToken(s) { return String(s || '').toLowerCase().replace(/[^a-z0-9_-]/g, ''); }

// <span class="field"><span class="label">label</span> value</span>
export function field(label, value) {
  return el('span', { className: 'field' }, el('span', { className: 'label' }, label), ' ', value);
}

export async function copyText(text) {
  try { await navigator.clipboard.writeText(text); return true; } catch (e) {
    const ta = el('textarea', { className: 'offscreen' }, text);
    document.body.appendChild(ta); ta.select();
    const ok = document.execCommand('copy'); ta.remove(); return ok;
  }
}
