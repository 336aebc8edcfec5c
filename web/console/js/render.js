// render.js — one received push as DOM, for the receiver page.
//
// Every piece of user content goes in through textContent (h() with string children). URLs
// become links or images only when they are http(s); images are shown inline only where the
// page's Content-Security-Policy lets them load (same origin, or img-src allowing http(s)),
// and as links otherwise, so that a push never causes a CSP violation.

import { h, formatBytes, formatTime } from './dom.js';

/** The URL as an absolute http(s) href, or null for anything else (javascript:, data:, ...). */
export function httpUrl(u) {
  if (typeof u !== 'string' || !u) return null;
  try {
    const url = new URL(u);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch (e) {
    return null;
  }
}

let remoteImages = false;

/**
 * Reads the page's own Content-Security-Policy (a HEAD request to the page) to learn whether
 * images from other origins may load. Without a header, they may.
 */
export async function detectImagePolicy() {
  try {
    const res = await fetch(location.pathname, { method: 'HEAD', cache: 'no-store' });
    const csp = res.headers.get('content-security-policy');
    if (!csp) { remoteImages = true; return; }
    const directives = csp.split(';').map((d) => d.trim().split(/\s+/));
    const find = (name) => directives.find((d) => d[0].toLowerCase() === name);
    const src = find('img-src') || find('default-src');
    remoteImages = !src || src.slice(1).some((s) => s === '*' || s === 'https:' || s === 'http:');
  } catch (e) {
    remoteImages = false;
  }
}

function imageAllowed(href) {
  return remoteImages || new URL(href).origin === location.origin;
}

function link(href, text) {
  return h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, text);
}

function label(text) {
  return h('span', { class: 'el-label' }, text);
}

function str(v) {
  return v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
}

function joinParts(parts) {
  return parts.filter((p) => p !== '' && p !== null && p !== undefined).join(' · ');
}

function thumbnail(href, alt, width, height, target) {
  const w = Math.min(Number(width) || 160, 240);
  const ratio = Number(width) > 0 && Number(height) > 0 ? Number(height) / Number(width) : 0.75;
  const img = h('img', {
    src: href, alt, loading: 'lazy', decoding: 'async', referrerpolicy: 'no-referrer',
    width: Math.round(w), height: Math.round(w * ratio), class: 'thumb',
  });
  return target ? h('a', { href: target, target: '_blank', rel: 'noopener noreferrer' }, img) : img;
}

const renderers = {
  TIMTextElem(c) {
    return h('p', { class: 'el el-text' }, str(c.Text));
  },

  TIMCustomElem(c) {
    const rows = [];
    for (const k of ['Data', 'Desc', 'Ext', 'Sound']) {
      if (c[k] === undefined || c[k] === null || c[k] === '') continue;
      rows.push(h('dt', {}, k), h('dd', {}, k === 'Data' ? h('pre', {}, str(c[k])) : str(c[k])));
    }
    return h('div', { class: 'el el-custom' }, label('Custom'),
      rows.length ? h('dl', {}, rows) : h('span', { class: 'muted' }, '(empty)'));
  },

  TIMImageElem(c) {
    const infos = Array.isArray(c.ImageInfoArray) ? c.ImageInfoArray.filter((i) => i && httpUrl(i.URL)) : [];
    const byType = (t) => infos.find((i) => Number(i.Type) === t);
    const original = byType(1) || infos[0];
    const thumb = byType(3) || byType(2) || original;
    const parts = [label('Image')];
    if (!thumb) {
      parts.push(h('span', { class: 'muted' }, 'no http(s) URL'));
    } else {
      const thumbHref = httpUrl(thumb.URL);
      const origHref = httpUrl(original.URL);
      if (imageAllowed(thumbHref)) parts.push(thumbnail(thumbHref, 'Image', thumb.Width, thumb.Height, origHref));
      const size = original.Width && original.Height ? `${original.Width}×${original.Height}` : '';
      parts.push(h('span', { class: 'el-meta' }, joinParts([size, formatBytes(original.Size)])), ' ', link(origHref, 'Open image'));
    }
    return h('div', { class: 'el el-image' }, parts);
  },

  TIMLocationElem(c) {
    const lat = Number(c.Latitude), lon = Number(c.Longitude);
    const coords = Number.isFinite(lat) && Number.isFinite(lon) ? `lat ${lat}, long ${lon}` : '';
    return h('div', { class: 'el el-location' }, label('Location'), h('span', {}, str(c.Desc)),
      coords ? h('span', { class: 'el-meta' }, coords) : null);
  },

  TIMFaceElem(c) {
    return h('div', { class: 'el el-face' }, label('Face'), h('span', {}, `#${str(c.Index)}`),
      c.Data ? h('span', { class: 'el-meta' }, str(c.Data)) : null);
  },

  TIMSoundElem(c) {
    const href = httpUrl(c.Url);
    const meta = joinParts([c.Second !== undefined ? `${c.Second} s` : '', formatBytes(c.Size)]);
    return h('div', { class: 'el el-sound' }, label('Sound'), h('span', { class: 'el-meta' }, meta),
      href ? link(href, 'Play / download') : h('span', { class: 'muted' }, 'no http(s) URL'));
  },

  TIMFileElem(c) {
    const href = httpUrl(c.Url);
    const name = str(c.FileName) || 'file';
    return h('div', { class: 'el el-file' }, label('File'),
      href ? link(href, name) : h('span', {}, name), h('span', { class: 'el-meta' }, formatBytes(c.FileSize)));
  },

  TIMVideoFileElem(c) {
    const href = httpUrl(c.VideoUrl);
    const thumb = httpUrl(c.ThumbUrl);
    const meta = joinParts([c.VideoSecond !== undefined ? `${c.VideoSecond} s` : '', str(c.VideoFormat), formatBytes(c.VideoSize)]);
    return h('div', { class: 'el el-video' }, label('Video'),
      thumb && imageAllowed(thumb) ? thumbnail(thumb, 'Video thumbnail', c.ThumbWidth, c.ThumbHeight, href) : null,
      h('span', { class: 'el-meta' }, meta),
      href ? link(href, 'Open video') : h('span', { class: 'muted' }, 'no http(s) URL'));
  },
};

/** One MsgBody element. */
export function renderElement(el) {
  const type = el && typeof el.MsgType === 'string' ? el.MsgType : '(no MsgType)';
  const content = el && el.MsgContent && typeof el.MsgContent === 'object' ? el.MsgContent : {};
  const fn = Object.prototype.hasOwnProperty.call(renderers, type) ? renderers[type] : null;
  if (fn) return fn(content);
  return h('div', { class: 'el el-unknown' }, label(type), h('pre', {}, JSON.stringify(content, null, 2)));
}

/** A push (the Msg event of docs/client-protocol.md) as a list item. */
export function renderPush(m) {
  const when = Number(m.MsgTime) > 0 ? new Date(Number(m.MsgTime) * 1000) : null;
  const body = Array.isArray(m.MsgBody) ? m.MsgBody : [];
  const item = h('li', { class: 'msg', dataset: { seq: m.Seq, taskId: str(m.TaskId) } },
    h('div', { class: 'msg-meta' },
      h('span', { class: 'msg-from' }, 'From ', h('strong', { dataset: { role: 'sender' } }, str(m.From_Account) || '(unknown)')),
      when ? h('time', { datetime: when.toISOString(), dataset: { role: 'time' } }, formatTime(m.MsgTime)) : null,
      h('span', { class: 'msg-seq' }, `Seq ${str(m.Seq)}`),
      h('span', { class: 'badge badge-revoked', dataset: { role: 'revoked' }, hidden: true }, 'Revoked')),
    h('div', { class: 'msg-body', dataset: { role: 'message' } },
      body.length ? body.map(renderElement) : h('span', { class: 'muted' }, '(empty MsgBody)')));
  if (m.OfflinePushInfo && typeof m.OfflinePushInfo === 'object') {
    item.append(h('details', { class: 'msg-extra' }, h('summary', {}, 'OfflinePushInfo'),
      h('pre', {}, JSON.stringify(m.OfflinePushInfo, null, 2))));
  }
  item.append(h('div', { class: 'msg-task' }, 'TaskId ', h('code', {}, str(m.TaskId))));
  return item;
}

/** Marks a rendered push as revoked. */
export function markRevoked(item) {
  if (!item || item.classList.contains('revoked')) return;
  item.classList.add('revoked');
  item.querySelector('[data-role=revoked]').hidden = false;
  item.setAttribute('aria-label', 'Revoked push');
}
