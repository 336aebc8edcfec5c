// admin.js — the admin page (/console/): credentials, accounts, attribute names, one user's
// tags and attributes, composing a push with a live audience count, and its live report.
//
// Every call is a REST call of docs/rest-api.md made with the admin UserSig the operator
// pasted (api.js); failures show ErrorCode and ErrorInfo next to the form that made them.

import { $, $$, h, replace, status, showError, splitList, formatTime, debounce } from './dom.js';
import {
  call, random32, loadCredentials, saveCredentials, forgetCredentials, describeErrorList,
  DEFAULT_SDKAPPID, DEFAULT_ADMIN,
} from './api.js';

const PUSH = 'all_member_push';
const ACCOUNTS = 'im_open_login_svc';
const BATCH = 100;                 // accounts per multiaccount_import (rest-api.md §3)
const REPORT_POLL_MS = 500;
const SLOTS = 10;

let creds = loadCredentials();
let attrNames = {};                // "0".."9" → name

const api = (service, command, body) => call(creds, service, command, body);
const plural = (n, word, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;

// ------------------------------------------------------------------ credentials

const credsForm = $('#creds-form');
const credsStatus = $('#c-status');

function readCredsForm() {
  return {
    sdkappid: $('#c-sdkappid').value.trim() || DEFAULT_SDKAPPID,
    identifier: $('#c-identifier').value.trim() || DEFAULT_ADMIN,
    usersig: $('#c-usersig').value.trim(),
  };
}

async function signIn(c, quiet) {
  if (!quiet) status(credsStatus, 'busy', 'Checking the credentials…');
  try {
    const doc = await call(c, PUSH, 'im_get_attr_name', {});
    creds = c;
    saveCredentials(c);
    setNames(doc.AttrNames);
    $('#workspace').hidden = false;
    const who = $('#who');
    who.hidden = false;
    replace(who, 'Signed in as ', h('strong', {}, c.identifier), ` · app ${c.sdkappid}`);
    status(credsStatus, 'ok', `Signed in as ${c.identifier} on app ${c.sdkappid}.`);
    updateAudience();
  } catch (e) {
    showError(credsStatus, e);
  }
}

credsForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  signIn(readCredsForm(), false);
});

$('#c-forget').addEventListener('click', () => {
  forgetCredentials();
  creds = null;
  $('#c-usersig').value = '';
  $('#workspace').hidden = true;
  $('#who').hidden = true;
  stopWatching();
  status(credsStatus, 'info', 'The UserSig was forgotten (removed from this tab).');
  $('#c-usersig').focus();
});

// ------------------------------------------------------------------ accounts

$('#import-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const out = $('#imp-status');
  const ids = splitList($('#imp-ids').value);
  if (ids.length === 0) return status(out, 'error', 'Enter at least one UserID.');
  let done = 0;
  const failed = [];
  try {
    if (ids.length === 1) {
      const body = { UserID: ids[0] };
      const nick = $('#imp-nick').value.trim();
      const face = $('#imp-face').value.trim();
      if (nick) body.Nick = nick;
      if (face) body.FaceUrl = face;
      status(out, 'busy', `Importing ${ids[0]}…`);
      await api(ACCOUNTS, 'account_import', body);
      done = 1;
    } else {
      for (let i = 0; i < ids.length; i += BATCH) {
        status(out, 'busy', `Importing… ${i} of ${ids.length}`);
        const chunk = ids.slice(i, i + BATCH);
        const doc = await api(ACCOUNTS, 'multiaccount_import', { Accounts: chunk });
        const fails = Array.isArray(doc.FailAccounts) ? doc.FailAccounts : [];
        failed.push(...fails);
        done += chunk.length;
      }
    }
  } catch (e) {
    showError(out, e);
    if (done) out.append(` (the first ${done} were sent before the failure)`);
    return;
  }
  if (failed.length) {
    status(out, 'error', `Imported ${done - failed.length} of ${done}; refused: ${failed.join(', ')}`);
  } else {
    status(out, 'ok', `Imported ${plural(done, 'account')}: ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}.`);
  }
  updateAudience();
});

// ------------------------------------------------------------------ attribute names

const slotInputs = [];
for (let i = 0; i < SLOTS; i++) {
  const input = h('input', { id: `an-${i}`, maxlength: 50, spellcheck: 'false', autocomplete: 'off' });
  slotInputs.push(input);
  $('#an-slots').append(h('div', { class: 'slot' }, h('label', { for: `an-${i}` }, `Slot ${i}`), input));
}

function sortedNames() {
  return Object.keys(attrNames).sort((a, b) => Number(a) - Number(b)).map((k) => attrNames[k]);
}

function setNames(names) {
  attrNames = names && typeof names === 'object' && !Array.isArray(names) ? { ...names } : {};
  slotInputs.forEach((input, i) => { input.value = attrNames[String(i)] || ''; });
  for (const select of $$('.cond-row select')) fillNameOptions(select, select.value);
  if (currentUser) renderAttrs();
}

async function loadNames(out) {
  try {
    const doc = await api(PUSH, 'im_get_attr_name', {});
    setNames(doc.AttrNames);
    if (out) status(out, 'ok', `Loaded: ${sortedNames().join(', ') || 'no names set yet'}.`);
  } catch (e) {
    showError(out || $('#an-status'), e);
  }
}

$('#an-reload').addEventListener('click', () => loadNames($('#an-status')));

$('#an-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const out = $('#an-status');
  const changes = {};
  for (let i = 0; i < SLOTS; i++) {
    const v = slotInputs[i].value.trim();
    const old = attrNames[String(i)] || '';
    if (v === old) continue;
    if (!v) {
      slotInputs[i].focus();
      return status(out, 'error', `Slot ${i} cannot be cleared: the API can only rename it (it is “${old}”).`);
    }
    changes[String(i)] = v;
  }
  if (Object.keys(changes).length === 0) return status(out, 'info', 'Nothing changed.');
  status(out, 'busy', 'Saving…');
  try {
    await api(PUSH, 'im_set_attr_name', { AttrNames: changes });
    await loadNames();
    status(out, 'ok', `Saved: ${Object.entries(changes).map(([k, v]) => `${k} = ${v}`).join(', ')}.`);
  } catch (e) {
    showError(out, e);
  }
});

// ------------------------------------------------------------------ one user

let currentUser = null;
let userAttrs = {};
const userStatus = $('#u-status');

function entryOf(list, uid) {
  return Array.isArray(list) ? list.find((x) => x && x.To_Account === uid) : null;
}

async function lookUp(uid) {
  const [tags, attrs] = await Promise.all([
    api(PUSH, 'im_get_tag', { To_Account: [uid] }),
    api(PUSH, 'im_get_attr', { To_Account: [uid] }),
  ]);
  const unknown = describeErrorList(tags) || describeErrorList(attrs);
  if (unknown) {
    currentUser = null;
    $('#u-panel').hidden = true;
    status(userStatus, 'error', `Not found: ${unknown}. Import the account first.`);
    return false;
  }
  currentUser = uid;
  userAttrs = (entryOf(attrs.UserAttrs, uid) || {}).Attrs || {};
  replace($('#u-name'), uid);
  renderTags((entryOf(tags.UserTags, uid) || {}).Tags || []);
  renderAttrs();
  $('#u-panel').hidden = false;
  return true;
}

function renderTags(tags) {
  const list = $('#u-tags');
  if (!tags.length) return replace(list, h('li', { class: 'muted' }, 'No tags.'));
  replace(list, tags.map((tag) => h('li', { class: 'chip', dataset: { tag } },
    h('span', {}, tag),
    h('button', {
      type: 'button', class: 'chip-remove', 'aria-label': `Remove tag ${tag}`, title: `Remove tag ${tag}`,
      onclick: () => changeUser(() => api(PUSH, 'im_remove_tag', { UserTags: [{ To_Account: currentUser, Tags: [tag] }] }),
        `Removed tag ${tag} from ${currentUser}.`),
    }, '×'))));
}

function renderAttrs() {
  const body = $('#u-attrs');
  const names = sortedNames();
  for (const n of Object.keys(userAttrs)) if (!names.includes(n)) names.push(n);
  if (!names.length) {
    return replace(body, h('tr', {}, h('td', { colspan: 2, class: 'muted' }, 'No attribute names yet: set them under “Attribute names”.')));
  }
  replace(body, names.map((name, i) => h('tr', {},
    h('th', { scope: 'row' }, h('label', { for: `ua-${i}` }, name)),
    h('td', {}, h('input', {
      id: `ua-${i}`, value: userAttrs[name] === undefined ? '' : String(userAttrs[name]),
      dataset: { name }, maxlength: 50, spellcheck: 'false', autocomplete: 'off',
    })))));
}

/** Runs a change to the current user, then shows the user again and the new audience. */
async function changeUser(action, message) {
  const uid = currentUser;
  if (!uid) return;
  status(userStatus, 'busy', 'Saving…');
  try {
    const doc = await action();
    await lookUp(uid);
    const unknown = describeErrorList(doc);
    status(userStatus, unknown ? 'error' : 'ok', unknown ? `Not applied to: ${unknown}` : message);
    updateAudience();
  } catch (e) {
    showError(userStatus, e);
  }
}

$('#user-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const uid = $('#u-id').value.trim();
  if (!uid) return;
  status(userStatus, 'busy', `Looking up ${uid}…`);
  try {
    if (await lookUp(uid)) status(userStatus, 'ok', `Showing ${uid}.`);
  } catch (e) {
    showError(userStatus, e);
  }
});

$('#tag-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const tags = splitList($('#u-newtags').value, /[,\n]+/);
  if (!tags.length) return;
  changeUser(async () => {
    const doc = await api(PUSH, 'im_add_tag', { UserTags: [{ To_Account: currentUser, Tags: tags }] });
    $('#u-newtags').value = '';
    return doc;
  }, `Added ${plural(tags.length, 'tag')} to ${currentUser}: ${tags.join(', ')}.`);
});

$('#attr-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const set = {};
  const removed = [];
  for (const input of $$('#u-attrs input')) {
    const name = input.dataset.name;
    const v = input.value.trim();
    const old = userAttrs[name] === undefined ? '' : String(userAttrs[name]);
    if (v === old) continue;
    if (v) set[name] = v;
    else removed.push(name);
  }
  const parts = [...Object.entries(set).map(([k, v]) => `${k} = ${v}`), ...removed.map((n) => `${n} removed`)];
  if (!parts.length) return status(userStatus, 'info', 'Nothing changed.');
  changeUser(async () => {
    let doc = {};
    if (Object.keys(set).length) doc = await api(PUSH, 'im_set_attr', { UserAttrs: [{ To_Account: currentUser, Attrs: set }] });
    if (removed.length) doc = await api(PUSH, 'im_remove_attr', { UserAttrs: [{ To_Account: currentUser, Attrs: removed }] });
    return doc;
  }, `Saved ${currentUser}: ${parts.join(', ')}.`);
});

$('#u-kick').addEventListener('click', async () => {
  const uid = currentUser;
  if (!uid) return;
  status(userStatus, 'busy', `Kicking ${uid}…`);
  try {
    await api(ACCOUNTS, 'kick', { UserID: uid });
    status(userStatus, 'ok', `Kicked ${uid}: its receiver connections were closed.`);
    updateAudience();
  } catch (e) {
    showError(userStatus, e);
  }
});

// ------------------------------------------------------------------ composing a push

const radioValue = (name) => ($(`input[name=${name}]:checked`) || {}).value;
let rowSeq = 0;

function fillNameOptions(select, selected) {
  const names = sortedNames();
  if (selected && !names.includes(selected)) names.push(selected);
  replace(select, names.length
    ? names.map((n) => h('option', { value: n, selected: n === selected }, n))
    : h('option', { value: '', disabled: true, selected: true }, '(no attribute names)'));
}

function addCondRow(list) {
  const id = `cond-${++rowSeq}`;
  const select = h('select', { id: `${id}-name` });
  fillNameOptions(select, '');
  const value = h('input', { id: `${id}-value`, spellcheck: 'false', autocomplete: 'off', placeholder: 'value' });
  const row = h('li', { class: 'cond-row' },
    h('label', { for: `${id}-name`, class: 'sr-only' }, 'Attribute'), select,
    h('span', { 'aria-hidden': 'true' }, '='),
    h('label', { for: `${id}-value`, class: 'sr-only' }, 'Value'), value,
    h('button', {
      type: 'button', class: 'secondary small', 'aria-label': 'Remove this condition',
      onclick: () => { row.remove(); updateAudience(); },
    }, 'Remove'));
  select.addEventListener('change', updateAudience);
  value.addEventListener('input', updateAudience);
  list.append(row);
  return value;
}

function attrsOf(list) {
  const out = {};
  for (const row of $$('.cond-row', list)) {
    const name = $('select', row).value;
    const value = $('input', row).value.trim();
    if (name && value) out[name] = value;
  }
  return out;
}

/** The Condition for the chosen audience, or null for every account. */
function currentCondition() {
  const aud = radioValue('aud');
  const cond = {};
  if (aud === 'tags') {
    const and = splitList($('#p-tags-and').value, /[,\n]+/);
    const or = splitList($('#p-tags-or').value, /[,\n]+/);
    if (and.length) cond.TagsAnd = and;
    if (or.length) cond.TagsOr = or;
  } else if (aud === 'attrs') {
    const and = attrsOf($('#p-attrs-and'));
    const or = attrsOf($('#p-attrs-or'));
    if (Object.keys(and).length) cond.AttrsAnd = and;
    if (Object.keys(or).length) cond.AttrsOr = or;
  }
  return Object.keys(cond).length ? cond : null;
}

function showAudienceMode() {
  const aud = radioValue('aud');
  $('#aud-tags').hidden = aud !== 'tags';
  $('#aud-attrs').hidden = aud !== 'attrs';
  if (aud === 'attrs' && !$('#p-attrs-and .cond-row') && !$('#p-attrs-or .cond-row')) addCondRow($('#p-attrs-and'));
  const elem = radioValue('elem');
  $('#elem-text').hidden = elem !== 'text';
  $('#elem-custom').hidden = elem !== 'custom';
}

let audienceSeq = 0;
const audienceCount = $('#aud-count');
const audienceDetail = $('#aud-detail');

async function refreshAudience() {
  if (!creds) return;
  const seq = ++audienceSeq;
  const cond = currentCondition();
  const chosen = radioValue('aud');
  try {
    const doc = await api(PUSH, 'im_get_audience', cond ? { Condition: cond } : {});
    if (seq !== audienceSeq) return;          // a newer condition was asked meanwhile
    audienceCount.textContent = String(doc.Audience);
    audienceCount.parentElement.dataset.kind = 'ok';
    delete audienceCount.parentElement.dataset.code;
    audienceDetail.textContent = `${doc.Audience === 1 ? 'account' : 'accounts'} · ${doc.Online} online now` +
      (!cond && chosen !== 'all' ? ' (no condition given: every account)' : '');
  } catch (e) {
    if (seq !== audienceSeq) return;
    audienceCount.textContent = '–';
    audienceCount.parentElement.dataset.kind = 'error';
    audienceCount.parentElement.dataset.code = String(e.code);
    audienceDetail.textContent = `Error ${e.code}: ${e.info || e.message}`;
  }
}

const updateAudience = debounce(refreshAudience, 200);

for (const el of $$('input[name=aud], input[name=elem]')) {
  el.addEventListener('change', () => { showAudienceMode(); updateAudience(); });
}
for (const id of ['#p-tags-and', '#p-tags-or']) $(id).addEventListener('input', updateAudience);
$('#p-add-and').addEventListener('click', () => addCondRow($('#p-attrs-and')).focus());
$('#p-add-or').addEventListener('click', () => addCondRow($('#p-attrs-or')).focus());

function messageElement() {
  if (radioValue('elem') === 'custom') {
    const content = { Data: $('#p-data').value };
    const desc = $('#p-desc').value;
    const ext = $('#p-ext').value;
    if (desc) content.Desc = desc;
    if (ext) content.Ext = ext;
    return { MsgType: 'TIMCustomElem', MsgContent: content };
  }
  return { MsgType: 'TIMTextElem', MsgContent: { Text: $('#p-text').value } };
}

$('#push-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const out = $('#p-status');
  const elem = messageElement();
  if (elem.MsgType === 'TIMTextElem' && !elem.MsgContent.Text.trim()) {
    $('#p-text').focus();
    return status(out, 'error', 'Write the text of the message first.');
  }
  const life = Number($('#p-life').value);
  if (!Number.isInteger(life) || life < 0 || life > 604800) {
    $('#p-life').focus();
    return status(out, 'error', 'MsgLifeTime is a whole number of seconds from 0 to 604800.');
  }
  const body = { MsgRandom: random32(), MsgBody: [elem], MsgLifeTime: life };
  const from = $('#p-from').value.trim();
  if (from) body.From_Account = from;
  const cond = currentCondition();
  if (cond) body.Condition = cond;
  const send = $('#p-send');
  send.disabled = true;
  status(out, 'busy', 'Pushing…');
  try {
    const doc = await api(PUSH, 'im_push', body);
    status(out, 'ok', ['Pushed. TaskId ', h('code', {}, doc.TaskId)]);
    remember(doc.TaskId, elem, cond, life);
    if (life > 0) watch(doc.TaskId);
    else {
      stopWatching();
      $('#rep-body').hidden = true;
      status($('#rep-status'), 'info', 'MsgLifeTime 0: the push reached the receivers online now and is not kept, so it has no report.');
    }
  } catch (e) {
    showError(out, e);
  } finally {
    send.disabled = false;
  }
});

function summary(elem, cond) {
  const text = elem.MsgType === 'TIMTextElem' ? elem.MsgContent.Text : `custom: ${elem.MsgContent.Data}`;
  const short = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  const who = !cond ? 'everyone' : [
    cond.TagsAnd && `tags all of ${cond.TagsAnd.join(', ')}`, cond.TagsOr && `tags any of ${cond.TagsOr.join(', ')}`,
    cond.AttrsAnd && `attrs ${Object.entries(cond.AttrsAnd).map(([k, v]) => `${k}=${v}`).join(' and ')}`,
    cond.AttrsOr && `attrs ${Object.entries(cond.AttrsOr).map(([k, v]) => `${k}=${v}`).join(' or ')}`,
  ].filter(Boolean).join('; ');
  return `“${short}” to ${who}`;
}

function remember(taskId, elem, cond, life) {
  const list = $('#recent');
  list.prepend(h('li', {},
    h('span', { class: 'recent-text' }, summary(elem, cond)), ' ',
    life > 0 ? h('button', { type: 'button', class: 'secondary small', onclick: () => watch(taskId), 'aria-label': `Watch push ${taskId}` }, 'Watch')
      : h('span', { class: 'muted' }, '(not kept)')));
  while (list.children.length > 10) list.lastElementChild.remove();
}

// ------------------------------------------------------------------ the live report

const watcher = { taskId: null, timer: 0, active: false };
const reportStatus = $('#rep-status');
const field = (id, v) => { $(id).textContent = v; };

function watch(taskId) {
  stopWatching();
  watcher.taskId = taskId;
  watcher.active = true;
  $('#rep-body').hidden = false;
  field('#rep-task', taskId);
  for (const id of ['#rep-state', '#rep-audience', '#rep-online', '#rep-delivered', '#rep-pending',
    '#rep-created', '#rep-fanout', '#rep-expires']) field(id, '–');
  $('#rep-progress').max = 1;
  $('#rep-progress').value = 0;
  field('#rep-progress-text', 'waiting for the first report…');
  $('#rep-watch').textContent = 'Stop watching';
  $('#rep-revoke').disabled = false;
  status(reportStatus, 'busy', 'Watching: the report is read every half second.');
  poll();
}

function stopWatching() {
  clearTimeout(watcher.timer);
  watcher.active = false;
}

async function poll() {
  const id = watcher.taskId;
  let r;
  try {
    r = await api(PUSH, 'im_get_push_report', { TaskId: id });
  } catch (e) {
    if (id !== watcher.taskId || !watcher.active) return;
    showError(reportStatus, e);
    if (e.code === 0) watcher.timer = setTimeout(poll, REPORT_POLL_MS * 4);   // server away: keep trying
    else { stopWatching(); $('#rep-watch').textContent = 'Watch again'; }
    return;
  }
  if (id !== watcher.taskId || !watcher.active) return;
  showReport(r);
  const final = r.State === 'Expired' || r.State === 'Revoked' || (r.State === 'Done' && r.Pending === 0);
  if (final) {
    stopWatching();
    $('#rep-watch').textContent = 'Watch again';
    status(reportStatus, 'ok', r.State === 'Done'
      ? `Done: delivered to all ${plural(r.Audience, 'account')} of the audience.` : `Final state: ${r.State}.`);
  } else {
    watcher.timer = setTimeout(poll, REPORT_POLL_MS);
  }
}

function showReport(r) {
  const audience = Number(r.Audience) || 0;
  const delivered = Number(r.Delivered) || 0;
  const progress = $('#rep-progress');
  progress.max = Math.max(audience, 1);
  progress.value = Math.min(delivered, progress.max);
  const pct = audience ? Math.floor((delivered * 100) / audience) : 0;
  field('#rep-progress-text', audience ? `${delivered} of ${audience} delivered (${pct}%)` : 'no account in the audience');
  field('#rep-state', r.State);
  $('#rep-state').dataset.state = r.State;
  field('#rep-audience', String(r.Audience));
  field('#rep-online', String(r.OnlineAtPush));
  field('#rep-delivered', String(r.Delivered));
  field('#rep-pending', String(r.Pending));
  field('#rep-created', formatTime(r.CreatedAt) || '–');
  field('#rep-fanout', formatTime(r.FanoutDoneAt) || (r.State === 'FanningOut' ? 'in progress' : '–'));
  field('#rep-expires', formatTime(r.ExpiresAt) || '–');
  $('#rep-revoke').disabled = r.State === 'Revoked' || r.State === 'Expired';
}

$('#rep-watch').addEventListener('click', () => {
  if (watcher.active) {
    stopWatching();
    $('#rep-watch').textContent = 'Watch again';
    status(reportStatus, 'info', 'Stopped watching.');
  } else if (watcher.taskId) {
    watch(watcher.taskId);
  }
});

$('#rep-revoke').addEventListener('click', async () => {
  const id = watcher.taskId;
  if (!id) return;
  status(reportStatus, 'busy', 'Revoking…');
  try {
    await api(PUSH, 'im_revoke', { TaskId: id });
    watch(id);
    status(reportStatus, 'ok', 'Revoked: delivery stopped and connected receivers were told.');
  } catch (e) {
    showError(reportStatus, e);
  }
});

$('#watch-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const id = $('#watch-id').value.trim();
  if (id) watch(id);
});

// ------------------------------------------------------------------ start

showAudienceMode();
if (creds) {
  $('#c-sdkappid').value = creds.sdkappid;
  $('#c-identifier').value = creds.identifier;
  $('#c-usersig').value = creds.usersig;
  signIn(creds, false);
} else {
  $('#c-usersig').focus();
}
