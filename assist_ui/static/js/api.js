// The signed-in user's token (per tab, sessionStorage) and the JSON API with it.
const TOKEN_KEY = 'ca.token';

export function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
export function setToken(value) { sessionStorage.setItem(TOKEN_KEY, value); }
export function forgetToken() { sessionStorage.removeItem(TOKEN_KEY); }
export function signOut() { forgetToken(); location.reload(); }

export async function api(path, opts) {
  const res = await fetch(path, Object.assign({}, opts || {}, {
    headers: { Authorization: 'Bearer ' + token() }, cache: 'no-store',
  }));
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (res.status === 401) forgetToken();
  return { ok: res.ok, status: res.status, body };
}
