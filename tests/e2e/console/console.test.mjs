// console.test.mjs — the web console end to end, in headless Debian Chromium driven by
// playwright-core (no browser download: executablePath /usr/bin/chromium).
//
//   node console.test.mjs PORT ADMIN_USERSIG USER_USERSIG [USER_ID]
//
// Against a running imcastd on 127.0.0.1:PORT (sdkappid $IMCAST_SDKAPPID, default
// 1400000000; admin "administrator"; USER_USERSIG is USER_ID's, default viewer1; imcastd's
// --ping-sec in $IMCAST_PING_SEC, default 30), as a person would: a receiver logs in through
// receiver.html's form and stays connected while idle; on the admin page the operator signs
// in (a bad UserSig first: its ErrorCode shows), imports accounts, names an attribute, tags
// the user and sets its attribute, sees the audience count follow the condition (and an
// invalid condition's ErrorCode), pushes text to the tag and watches the report reach
// Delivered 1, while the receiver shows the text in [data-role=message]; then a custom
// element push, revoked from the report (the receiver marks it), a push of every other
// element type (thumbnails only where the CSP lets them load, no javascript: links), no
// console errors on either page (CSP violations would be there), and last a kick from the
// admin page: the receiver shows Kicked and does not reconnect.
//
// IMCAST_SCREENSHOTS=1 writes docs/console-admin.png and docs/console-receiver.png
// (IMCAST_SCREENSHOT_DIR overrides the folder). Exit 0 when every step passed.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const [port, adminSig, userSig, userId = 'viewer1'] = process.argv.slice(2);
if (!port || !adminSig || !userSig) {
  console.error('usage: node console.test.mjs PORT ADMIN_USERSIG USER_USERSIG [USER_ID]');
  process.exit(2);
}
const BASE = `http://127.0.0.1:${port}`;
const SDKAPPID = process.env.IMCAST_SDKAPPID || '1400000000';
const ADMIN = 'administrator';
const CHROMIUM = process.env.IMCAST_CHROMIUM || '/usr/bin/chromium';
const SHOT_DIR = process.env.IMCAST_SCREENSHOTS === '1'
  ? (process.env.IMCAST_SCREENSHOT_DIR || path.resolve(HERE, '..', '..', '..', 'docs')) : null;
const TIMEOUT = 15000;
const PING_SEC = Number(process.env.IMCAST_PING_SEC || 30);   // imcastd's --ping-sec
const TAG = 'console-vip';
const TEXT = 'Hello from the console <b>not bold</b> & "quoted"';

let passed = 0;
const consoleErrors = [];

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
  } catch (e) {
    console.log(`not ok - ${name}`);
    throw Object.assign(e, { step: name });
  }
  passed++;
  console.log(`ok - ${name} (${Date.now() - t0} ms)`);
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

/** Waits until the element's trimmed textContent satisfies want (a string, RegExp or function). */
async function waitText(page, selector, want, timeout = TIMEOUT) {
  const spec = want instanceof RegExp ? { re: want.source, flags: want.flags } : { eq: want };
  try {
    await page.waitForFunction(([sel, s]) => {
      const el = document.querySelector(sel);
      if (!el) return false;
      const t = el.textContent.trim();
      return s.re !== undefined ? new RegExp(s.re, s.flags).test(t) : t === s.eq;
    }, [selector, spec], { timeout });
  } catch (e) {
    const now = await page.$eval(selector, (el) => el.textContent.trim()).catch(() => '(no such element)');
    throw new Error(`${selector}: want ${want}, have "${now}"`);
  }
}

async function rest(service, command, body) {
  const q = new URLSearchParams({
    sdkappid: SDKAPPID, identifier: ADMIN, usersig: adminSig,
    random: String(Math.floor(Math.random() * 2 ** 32)), contenttype: 'json',
  });
  const res = await fetch(`${BASE}/v4/${service}/${command}?${q}`, { method: 'POST', body: JSON.stringify(body) });
  const doc = await res.json();
  if (doc.ErrorCode !== 0) throw new Error(`${service}/${command}: ${doc.ErrorCode} ${doc.ErrorInfo}`);
  return doc;
}

function watchConsole(page, name) {
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(`${name}: ${m.text()} (${m.location().url || ''})`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`${name}: uncaught ${e.message}`));
}

async function shot(page, file) {
  if (!SHOT_DIR) return;
  fs.mkdirSync(SHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SHOT_DIR, file), fullPage: true });
  console.log(`# screenshot ${path.join(SHOT_DIR, file)}`);
}

async function main() {
  await step('console files are served with their types and the CSP', async () => {
    for (const [p, type] of [['/console/', 'text/html'], ['/console/receiver.html', 'text/html'],
      ['/console/console.css', 'text/css'], ['/console/js/admin.js', 'text/javascript']]) {
      const res = await fetch(BASE + p);
      check(res.status === 200, `${p}: HTTP ${res.status}`);
      check((res.headers.get('content-type') || '').startsWith(type), `${p}: Content-Type ${res.headers.get('content-type')}`);
      const csp = res.headers.get('content-security-policy') || '';
      check(csp.includes("script-src 'self'") && csp.includes("style-src 'self'"), `${p}: CSP ${csp}`);
    }
  });

  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imcast-console-chromium-'));
  const context = await chromium.launchPersistentContext(userDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--dns-prefetch-disable'],
  });
  context.setDefaultTimeout(TIMEOUT);
  try {
    await run(context);
  } finally {
    await context.close().catch(() => {});
    fs.rmSync(userDir, { recursive: true, force: true });
  }
}

async function run(context) {
  const rx = await context.newPage();
  watchConsole(rx, 'receiver');
  const admin = await context.newPage();
  watchConsole(admin, 'admin');

  // ---------------------------------------------------------------- receiver login
  await step('receiver.html without parameters shows the login form', async () => {
    await rx.goto(`${BASE}/console/receiver.html`);
    await rx.locator('#login-form').waitFor({ state: 'visible' });
    check(await rx.locator('#feed').isHidden(), 'the feed is hidden before login');
    check(await rx.inputValue('#l-sdkappid') === '1400000000', 'sdkappid defaults to 1400000000');
    check((await rx.textContent('#l-hint')).includes('imcastd usersig'), 'the UserSig hint is shown');
  });

  await step('the receiver logs in and connects over WebSocket', async () => {
    await rx.fill('#l-sdkappid', SDKAPPID);
    await rx.fill('#l-identifier', userId);
    await rx.fill('#l-usersig', userSig);
    await Promise.all([rx.waitForURL(/usersig=/), rx.click('#login-form button[type=submit]')]);
    await rx.locator('#r-state[data-state=connected]').waitFor();
    await waitText(rx, '#r-user', userId);
    check((await rx.textContent('#r-detail')).includes(userId), 'the state names the user');
  });

  await step('an idle receiver stays connected past 3×PingSec (it repeats its Ack)', async () => {
    const before = await rx.textContent('#r-detail');       // carries the Hello's server time
    await rx.waitForTimeout((3 * PING_SEC + 1) * 1000);
    check(await rx.getAttribute('#r-state', 'data-state') === 'connected', 'still connected');
    check(await rx.textContent('#r-detail') === before, 'the same connection (no new Hello)');
  });

  // ---------------------------------------------------------------- admin sign-in
  await step('the admin page shows ErrorCode and ErrorInfo for a bad UserSig', async () => {
    await admin.goto(`${BASE}/console/`);
    check(await admin.inputValue('#c-sdkappid') === '1400000000', 'sdkappid defaults to 1400000000');
    check((await admin.textContent('#c-hint')).includes('imcastd usersig'), 'the UserSig hint is shown');
    check(await admin.locator('#workspace').isHidden(), 'the workspace waits for credentials');
    await admin.fill('#c-sdkappid', SDKAPPID);
    await admin.fill('#c-identifier', ADMIN);
    await admin.fill('#c-usersig', 'not-a-usersig');
    await admin.press('#c-usersig', 'Enter');
    await admin.locator('#c-status[data-kind=error][data-code="70003"]').waitFor();
    await waitText(admin, '#c-status', /^Error 70003: \S/);
    check(await admin.locator('#workspace').isHidden(), 'still no workspace');
  });

  await step('the admin signs in; the UserSig stays in sessionStorage across a reload', async () => {
    await admin.fill('#c-usersig', adminSig);
    await admin.press('#c-usersig', 'Enter');
    await admin.locator('#c-status[data-kind=ok]').waitFor();
    await admin.locator('#workspace').waitFor({ state: 'visible' });
    const stored = await admin.evaluate(() => JSON.parse(sessionStorage.getItem('imcast.console.admin')));
    check(stored && stored.usersig === adminSig && stored.identifier === ADMIN, 'credentials in sessionStorage');
    await admin.reload();
    await admin.locator('#workspace').waitFor({ state: 'visible' });
    await admin.locator('#c-status[data-kind=ok]').waitFor();
  });

  // ---------------------------------------------------------------- accounts, names, tags, attrs
  await step('import accounts (multiaccount_import)', async () => {
    await admin.fill('#imp-ids', `${userId}\nviewer2, viewer3`);
    await admin.click('#import-form button[type=submit]');
    await admin.locator('#imp-status[data-kind=ok]').waitFor();
    await waitText(admin, '#imp-status', /^Imported 3 accounts/);
    const doc = await rest('im_open_login_svc', 'account_check', { CheckItem: [{ UserID: 'viewer2' }, { UserID: 'viewer3' }] });
    check(doc.ResultItem.every((r) => r.AccountStatus === 'Imported'), 'account_check: imported');
  });

  await step('name attribute slot 0 (im_set_attr_name)', async () => {
    await admin.fill('#an-0', 'city');
    await admin.click('#an-form button[type=submit]');
    await admin.locator('#an-status[data-kind=ok]').waitFor();
    const doc = await rest('all_member_push', 'im_get_attr_name', {});
    check(doc.AttrNames['0'] === 'city', `AttrNames ${JSON.stringify(doc.AttrNames)}`);
  });

  await step('look a user up, add a tag and set an attribute', async () => {
    await admin.fill('#u-id', userId);
    await admin.press('#u-id', 'Enter');
    await admin.locator('#u-panel').waitFor({ state: 'visible' });
    await admin.fill('#u-newtags', TAG);
    await admin.press('#u-newtags', 'Enter');
    await admin.locator(`#u-tags .chip[data-tag="${TAG}"]`).waitFor();
    await admin.fill('#u-attrs input[data-name=city]', 'SZ');
    await admin.click('#attr-form button[type=submit]');
    await admin.locator('#u-status[data-kind=ok]').waitFor();
    check(await admin.inputValue('#u-attrs input[data-name=city]') === 'SZ', 'the attribute shows after reload');
    const tags = await rest('all_member_push', 'im_get_tag', { To_Account: [userId] });
    check(tags.UserTags[0].Tags.includes(TAG), `tags ${JSON.stringify(tags.UserTags)}`);
    const attrs = await rest('all_member_push', 'im_get_attr', { To_Account: [userId] });
    check(attrs.UserAttrs[0].Attrs.city === 'SZ', `attrs ${JSON.stringify(attrs.UserAttrs)}`);
  });

  await step('the audience count follows the condition (im_get_audience)', async () => {
    await waitText(admin, '#aud-count', '3');
    await admin.check('input[name=aud][value=tags]');
    await admin.fill('#p-tags-and', TAG);
    await waitText(admin, '#aud-count', '1');
    await waitText(admin, '#aud-detail', /1 online now/);
    await admin.fill('#p-tags-or', TAG);                       // the same tag in both: 90022
    await admin.locator('#audience[data-kind=error][data-code="90022"]').waitFor();
    await waitText(admin, '#aud-detail', /^Error 90022: \S/);
    await admin.fill('#p-tags-or', '');
    await waitText(admin, '#aud-count', '1');
    await admin.check('input[name=aud][value=attrs]');
    await admin.fill('#p-attrs-and .cond-row input', 'SZ');
    await waitText(admin, '#aud-count', '1');
    await admin.check('input[name=aud][value=tags]');
    await waitText(admin, '#aud-count', '1');
  });

  // ---------------------------------------------------------------- push text to the tag
  let textTask;
  await step('push text to the tag and watch the report reach Delivered 1', async () => {
    await admin.fill('#p-text', TEXT);
    await admin.click('#p-send');
    await admin.locator('#p-status[data-kind=ok]').waitFor();
    textTask = (await admin.textContent('#p-status code')).trim();
    check(/^[0-9a-f_]+$/.test(textTask), `TaskId ${textTask}`);
    await waitText(admin, '#rep-task', textTask);
    await waitText(admin, '#rep-delivered', '1');
    await waitText(admin, '#rep-state', 'Done');
    await waitText(admin, '#rep-audience', '1');
    await waitText(admin, '#rep-progress-text', /^1 of 1 delivered/);
    const [value, max] = await admin.$eval('#rep-progress', (p) => [p.value, p.max]);
    check(value === 1 && max === 1, `progress ${value}/${max}`);
  });

  await step('the receiver shows the text inside [data-role=message], as text', async () => {
    const item = rx.locator(`li.msg[data-task-id="${textTask}"]`);
    await item.waitFor();
    const body = item.locator('[data-role=message]');
    check((await body.textContent()).includes(TEXT), 'the text is in [data-role=message]');
    check(await body.locator('b').count() === 0, 'markup in the text stays text');
    await waitText(rx, `li.msg[data-task-id="${textTask}"] [data-role=sender]`, ADMIN);
    check(await item.locator('time').count() === 1, 'the push time is shown');
    const report = await rest('all_member_push', 'im_get_push_report', { TaskId: textTask });
    check(report.Delivered === 1 && report.Pending === 0, `report ${JSON.stringify(report)}`);
  });

  await shot(admin, 'console-admin.png');

  // ---------------------------------------------------------------- custom element, revoke
  let customTask;
  await step('push a custom element to everyone; the receiver shows Data/Desc/Ext', async () => {
    await admin.check('input[name=elem][value=custom]');
    await admin.check('input[name=aud][value=all]');
    await waitText(admin, '#aud-count', '3');
    await admin.fill('#p-data', '{"kind":"promo","id":42}');
    await admin.fill('#p-desc', 'Spring sale');
    await admin.fill('#p-ext', 'ext-1');
    await admin.fill('#p-from', 'viewer2');
    await admin.click('#p-send');
    await admin.locator('#p-status[data-kind=ok]').waitFor();
    customTask = (await admin.textContent('#p-status code')).trim();
    check(customTask !== textTask, 'a new TaskId');
    await waitText(admin, '#rep-task', customTask);
    await waitText(admin, '#rep-delivered', '1');
    await waitText(admin, '#rep-audience', '3');
    const item = rx.locator(`li.msg[data-task-id="${customTask}"]`);
    await item.waitFor();
    const text = await item.locator('[data-role=message]').textContent();
    for (const want of ['{"kind":"promo","id":42}', 'Spring sale', 'ext-1']) check(text.includes(want), `custom shows ${want}`);
    await waitText(rx, `li.msg[data-task-id="${customTask}"] [data-role=sender]`, 'viewer2');
  });

  await step('revoke from the report: the receiver marks the push revoked', async () => {
    await admin.click('#rep-revoke');
    await waitText(admin, '#rep-state', 'Revoked');
    const item = rx.locator(`li.msg[data-task-id="${customTask}"]`);
    await rx.locator(`li.msg.revoked[data-task-id="${customTask}"]`).waitFor();
    check(await item.locator('[data-role=revoked]').isVisible(), 'the Revoked badge shows');
    check(!(await rx.locator(`li.msg[data-task-id="${textTask}"]`).getAttribute('class')).includes('revoked'),
      'the other push is not revoked');
  });

  // ---------------------------------------------------------------- every element type
  await step('every element type renders; images only where the CSP allows, no javascript: links', async () => {
    const sameOrigin = `${BASE}/console/favicon.svg`;
    const otherOrigin = 'http://127.0.0.1:9';                  // another origin: the CSP blocks its images
    const doc = await rest('all_member_push', 'im_push', {
      MsgRandom: Math.floor(Math.random() * 2 ** 32), MsgLifeTime: 60, Condition: { TagsAnd: [TAG] },
      MsgBody: [
        { MsgType: 'TIMTextElem', MsgContent: { Text: 'Every element type' } },
        { MsgType: 'TIMImageElem', MsgContent: { UUID: 'i1', ImageFormat: 3, ImageInfoArray: [
          { Type: 1, Size: 2048, Width: 64, Height: 64, URL: sameOrigin },
          { Type: 3, Size: 512, Width: 64, Height: 64, URL: sameOrigin }] } },
        { MsgType: 'TIMImageElem', MsgContent: { UUID: 'i2', ImageFormat: 1, ImageInfoArray: [
          { Type: 1, Size: 120000, Width: 800, Height: 600, URL: `${otherOrigin}/photo.jpg` }] } },
        { MsgType: 'TIMLocationElem', MsgContent: { Desc: 'Shenzhen Bay', Latitude: 22.5, Longitude: 113.9 } },
        { MsgType: 'TIMFaceElem', MsgContent: { Index: 7, Data: 'smile' } },
        { MsgType: 'TIMSoundElem', MsgContent: { Url: `${otherOrigin}/a.mp3`, UUID: 's1', Size: 34000, Second: 12, Download_Flag: 2 } },
        { MsgType: 'TIMFileElem', MsgContent: { Url: 'javascript:alert(1)', UUID: 'f1', FileSize: 1048576, FileName: 'report.pdf', Download_Flag: 2 } },
        { MsgType: 'TIMVideoFileElem', MsgContent: { VideoUrl: `${otherOrigin}/v.mp4`, VideoUUID: 'v1', VideoSize: 2000000,
          VideoSecond: 15, VideoFormat: 'mp4', VideoDownloadFlag: 2, ThumbUrl: `${otherOrigin}/v.jpg`, ThumbUUID: 't1',
          ThumbSize: 1000, ThumbWidth: 160, ThumbHeight: 90, ThumbFormat: 'JPG', ThumbDownloadFlag: 2 } },
      ],
    });
    const item = rx.locator(`li.msg[data-task-id="${doc.TaskId}"]`);
    await item.waitFor();
    const body = item.locator('[data-role=message]');
    const text = await body.textContent();
    for (const want of ['Every element type', 'Shenzhen Bay', 'lat 22.5, long 113.9', '#7', '12 s', 'report.pdf', '15 s', 'mp4']) {
      check(text.includes(want), `shows ${want}`);
    }
    await rx.waitForFunction((id) => {
      const img = document.querySelector(`li.msg[data-task-id="${id}"] img.thumb`);
      return img && img.complete && img.naturalWidth > 0;
    }, doc.TaskId);
    const imgs = await body.locator('img').evaluateAll((els) => els.map((e) => e.getAttribute('src')));
    check(imgs.length === 1 && imgs[0] === sameOrigin, `only the same-origin image is inline: ${imgs}`);
    const hrefs = await body.locator('a').evaluateAll((els) => els.map((e) => e.getAttribute('href')));
    check(hrefs.includes(`${otherOrigin}/photo.jpg`) && hrefs.includes(`${otherOrigin}/a.mp3`) && hrefs.includes(`${otherOrigin}/v.mp4`),
      `links ${hrefs}`);
    check(!hrefs.some((h) => !/^https?:/.test(h)), `only http(s) links: ${hrefs}`);
    await waitText(rx, '#r-count', /^3 pushes received/);
  });

  await shot(rx, 'console-receiver.png');

  await step('no console errors on either page (CSP violations would show here)', async () => {
    check(consoleErrors.length === 0, `console errors:\n  ${consoleErrors.join('\n  ')}`);
  });

  // ---------------------------------------------------------------- kick
  await step('kick from the admin page: the receiver shows Kicked and stays disconnected', async () => {
    await admin.click('#u-kick');
    await admin.locator('#u-status[data-kind=ok]').waitFor();
    await rx.locator('#r-state[data-state=kicked]').waitFor();
    await rx.waitForTimeout(2500);                             // longer than the first backoff
    check(await rx.getAttribute('#r-state', 'data-state') === 'kicked', 'no reconnection after Kicked');
    const online = await rest('openim', 'query_online_status', { To_Account: [userId] });
    check(online.QueryResult[0].Status === 'Offline', `status ${JSON.stringify(online.QueryResult)}`);
    await waitText(rx, '#r-toggle', 'Connect');
  });

  await step('a reconnect by hand gets nothing twice (the pushes were acknowledged)', async () => {
    await rx.click('#r-toggle');
    await rx.locator('#r-state[data-state=connected]').waitFor();
    await rx.reload();
    await rx.locator('#r-state[data-state=connected]').waitFor();
    await rx.waitForTimeout(700);
    check(await rx.locator('li.msg').count() === 0, 'no push redelivered after a reload');
  });

  await step('still no console errors', async () => {
    check(consoleErrors.length === 0, `console errors:\n  ${consoleErrors.join('\n  ')}`);
  });
}

try {
  await main();
  console.log(`${passed} passed, 0 failed`);
} catch (e) {
  console.log(`# ${e.step ? `step "${e.step}": ` : ''}${e.stack || e}`);
  if (consoleErrors.length) console.log(`# console errors:\n#   ${consoleErrors.join('\n#   ')}`);
  console.log(`${passed} passed, 1 failed`);
  process.exitCode = 1;
}
// Idle keep-alive connections of fetch() would hold the process for a minute.
process.exit();
