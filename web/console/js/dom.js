// dom.js — tiny DOM helpers shared by the console pages.
//
// Everything that shows data goes through textContent (h() turns string children into text
// nodes); nothing here ever assigns innerHTML, so a push or an ErrorInfo cannot inject markup.

/** $('#id') / $('.x', root): querySelector. */
export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

/**
 * h('li', {class: 'msg', dataset: {seq: 1}, onclick: fn, hidden: true}, 'text', childNode)
 * Attributes: class, dataset (object), on<event> (function), text (textContent), and any other
 * name → setAttribute (false/null/undefined skip it, true sets it empty).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'dataset') for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces every child of el with the given children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * Shows a result in a status line (role=status): kind 'ok' | 'error' | 'busy' | 'info'.
 * An error is an ApiError (its code goes in data-code) or any Error / string.
 */
export function status(el, kind, message, code) {
  el.dataset.kind = kind;
  if (code !== undefined && code !== null) el.dataset.code = String(code);
  else delete el.dataset.code;
  replace(el, message);
}

export function showError(el, err) {
  if (err && typeof err.code === 'number') {
    const prefix = err.code ? `Error ${err.code}` : 'Error';
    status(el, 'error', [h('strong', {}, prefix), ': ', err.info || err.message], err.code);
  } else {
    status(el, 'error', [h('strong', {}, 'Error'), ': ', String(err && err.message || err)]);
  }
}

/** Splits "a, b\nc d" into ['a','b','c','d'] (no empty items, duplicates removed, order kept). */
export function splitList(text, separators = /[\s,]+/) {
  const out = [];
  for (const item of String(text || '').split(separators)) {
    const s = item.trim();
    if (s && !out.includes(s)) out.push(s);
  }
  return out;
}

/** "1,5 KB"-like size, for file and sound elements. */
export function formatBytes(n) {
  const v = Number(n);
  if (!Number.isFinite(v) || v < 0) return '';
  if (v < 1024) return `${v} B`;
  if (v < 1024 * 1024) return `${(v / 1024).toFixed(1)} KB`;
  return `${(v / 1024 / 1024).toFixed(1)} MB`;
}

/** Local date and time of a unix time in seconds ('' for 0 or not a number). */
export function formatTime(unix) {
  const v = Number(unix);
  if (!Number.isFinite(v) || v <= 0) return '';
  return new Date(v * 1000).toLocaleString();
}

/** Calls fn at most once per wait ms after the last call. */
export function debounce(fn, wait) {
  let t = 0;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), wait);
  };
}
