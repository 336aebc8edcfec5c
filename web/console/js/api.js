// api.js — the REST call format of docs/rest-api.md §1, from the browser.
//
//   POST /v4/<service>/<command>?sdkappid=&identifier=&usersig=&random=<32-bit>&contenttype=json
//
// with a JSON body. An answer whose ErrorCode is not 0 (or that is not the envelope at all)
// throws an ApiError carrying ErrorCode and ErrorInfo, so callers can show both.
//
// The admin credentials live in this tab's sessionStorage only: the server never stores them.

const STORAGE_KEY = 'imcast.console.admin';
export const DEFAULT_SDKAPPID = '1400000000';
export const DEFAULT_ADMIN = 'administrator';

export class ApiError extends Error {
  constructor(code, info, reply) {
    super(`${code}: ${info}`);
    this.name = 'ApiError';
    this.code = code;        // ErrorCode (0 for a network failure or a non-JSON answer)
    this.info = info;        // ErrorInfo, or what went wrong on the way
    this.reply = reply;      // the whole answer when there is one
  }
}

/** A random unsigned 32-bit integer (for `random` and MsgRandom). */
export function random32() {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

export function loadCredentials() {
  try {
    const c = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || 'null');
    if (c && c.sdkappid && c.identifier && c.usersig) return c;
  } catch (e) { /* unreadable: as if absent */ }
  return null;
}

export function saveCredentials(c) {
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify({
    sdkappid: String(c.sdkappid).trim(), identifier: String(c.identifier).trim(),
    usersig: String(c.usersig).trim(),
  }));
}

export function forgetCredentials() {
  sessionStorage.removeItem(STORAGE_KEY);
}

/** The call's URL (path and query) for the given credentials. */
export function callUrl(creds, service, command) {
  const q = new URLSearchParams({
    sdkappid: creds.sdkappid, identifier: creds.identifier, usersig: creds.usersig,
    random: String(random32()), contenttype: 'json',
  });
  return `/v4/${encodeURIComponent(service)}/${encodeURIComponent(command)}?${q}`;
}

/**
 * One REST call; resolves with the whole answer when ErrorCode is 0, else throws ApiError.
 * creds: {sdkappid, identifier, usersig}; body: an object (sent as JSON; {} when absent).
 */
export async function call(creds, service, command, body = {}) {
  if (!creds) throw new ApiError(0, 'enter the admin identifier and UserSig first');
  let res;
  try {
    res = await fetch(callUrl(creds, service, command), {
      method: 'POST', body: JSON.stringify(body || {}), cache: 'no-store',
      headers: { 'Content-Type': 'application/json' },
    });
  } catch (e) {
    throw new ApiError(0, `cannot reach imcastd (${e.message || e})`);
  }
  const text = await res.text();
  let doc = null;
  try { doc = JSON.parse(text); } catch (e) { /* handled below */ }
  if (!doc || typeof doc !== 'object' || typeof doc.ErrorCode !== 'number') {
    throw new ApiError(0, `HTTP ${res.status}: the answer is not the JSON envelope: ${text.slice(0, 200)}`);
  }
  if (doc.ErrorCode !== 0 || doc.ActionStatus !== 'OK') {
    throw new ApiError(doc.ErrorCode, doc.ErrorInfo || '(no ErrorInfo)', doc);
  }
  return doc;
}

/** "u1 (70107 account not imported), u2 (…)" from an answer's ErrorList, or ''. */
export function describeErrorList(doc) {
  const list = doc && Array.isArray(doc.ErrorList) ? doc.ErrorList : [];
  return list.map((e) => `${e.To_Account} (${e.ErrorCode}${e.ErrorInfo ? ' ' + e.ErrorInfo : ''})`).join(', ');
}
