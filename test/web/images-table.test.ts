/**
 * The dashboard's images table in Chromium (noauth, an admin): OS and tags
 * columns, relative dates with the exact time on hover, search as you type
 * with a count, sortable headers, bulk and per-row actions behind a
 * confirmation (checked through the API), copy and download buttons on the
 * image page,
 * and rows as cards on a phone. Screenshots land in artifacts/dashboard/.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkip, launchBrowser, screenshot, watchErrors } from '../helpers/browser.js';
import { suiteServer } from '../helpers/server.js';

describe('dashboard images table (noauth)', { skip: chromiumSkip() }, () => {
  const server = suiteServer({ socket: true });
  let browser: Browser;
  let page: Page;
  let errors: string[];
  const ids: Record<string, string> = {};

  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const status = async (name: string) => {
    const res = await call('GET', `/v2/images/${ids[name]}`);
    return res.status === 404 ? 'gone' : ((await res.json()) as { status: string }).status;
  };
  const rowNames = () => page.locator('table.images tbody tr td[data-label="Name"] a').allInnerTexts();
  /** Waits until the rows are the server's answer in this order (the URL changes before the answer arrives). */
  const rowsInOrder = (order: 'asc' | 'desc') =>
    page.waitForFunction((dir) => {
      const names = [...document.querySelectorAll('table.images tbody td[data-label="Name"] a')].map((a) => a.textContent ?? '');
      const sorted = [...names].sort();
      if (dir === 'desc') sorted.reverse();
      return names.length === 6 && names.every((n, i) => n === sorted[i]);
    }, order);

  before(async () => {
    const images: [string, Record<string, unknown>, boolean][] = [
      ['ubuntu-24.04', { os_distro: 'ubuntu', os_version: '24.04', tags: ['lts'] }, false],
      ['debian-12', { os_distro: 'debian', os_version: '12', tags: ['stable', 'cloud'] }, true],
      ['cirros', {}, true],
      ['old-base', {}, true],
      ['scratch-1', {}, false],
      ['scratch-2', {}, false],
    ];
    for (const [name, extra, upload] of images) {
      const created = (await (await call('POST', '/v2/images', { name, disk_format: 'raw', container_format: 'bare', ...extra })).json()) as { id: string };
      ids[name] = created.id;
      if (upload) await fetch(`${server.url}/v2/images/${created.id}/file`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(8192, name) });
    }
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, permissions: ['clipboard-read', 'clipboard-write'], acceptDownloads: true });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    errors = watchErrors(page);
  });
  after(() => browser?.close());

  it('shows OS, tags and relative dates with the exact time on hover', async () => {
    await page.goto(`${server.url}/dashboard/#/images`);
    await page.getByRole('link', { name: 'debian-12' }).waitFor();
    const debian = page.locator('tr', { has: page.getByRole('link', { name: 'debian-12' }) });
    assert.equal(await debian.locator('td[data-label="OS"]').innerText(), 'debian 12');
    assert.match(await debian.locator('td[data-label="Tags"]').innerText(), /stable\s+cloud|cloud\s+stable/);
    const created = debian.locator('td[data-label="Created"] time');
    assert.equal(await created.innerText(), 'just now');
    assert.match((await created.getAttribute('datetime')) ?? '', /^\d{4}-\d\d-\d\dT/);
    assert.ok(((await created.getAttribute('title')) ?? '').length > 8, 'the exact time on hover');
  });

  it('narrows the rows as you type, with a count', async () => {
    await page.getByLabel('Search names').fill('scr');
    await page.getByRole('status').filter({ hasText: '2 of 6 images on this page' }).waitFor();
    assert.deepEqual((await rowNames()).sort(), ['scratch-1', 'scratch-2']);
    await page.getByLabel('Search names').fill('');
    await page.getByRole('status').filter({ hasText: '6 images on this page' }).waitFor();
  });

  it('sorts on the server by a column header, and reverses on a second click', async () => {
    await page.getByRole('button', { name: 'Name', exact: true }).click();
    await page.waitForURL(/sort_key=name&sort_dir=asc/);
    await page.waitForFunction(() => document.querySelector('th[aria-sort="ascending"]')?.textContent?.startsWith('Name'));
    await rowsInOrder('asc');
    const ascending = await rowNames();
    await page.getByRole('button', { name: 'Name', exact: true }).click();
    await page.waitForURL(/sort_key=name&sort_dir=desc/);
    await page.waitForFunction(() => document.querySelector('th[aria-sort="descending"]')?.textContent?.startsWith('Name'));
    await rowsInOrder('desc');
    assert.deepEqual(await rowNames(), [...ascending].reverse());
  });

  it('deletes and deactivates several images at once after a confirmation, and says what failed', async () => {
    await page.getByLabel('Select scratch-1').check();
    await page.getByLabel('Select scratch-2').check();
    await page.getByRole('group', { name: 'Selected images' }).getByText('2 selected').waitFor();
    await screenshot(page, '12-images-bulk');
    await page.getByRole('group', { name: 'Selected images' }).getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete 2 images?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await page.getByText('Delete: 2 of 2 done.').waitFor();
    assert.deepEqual([await status('scratch-1'), await status('scratch-2')], ['gone', 'gone']);

    // Cancelling changes nothing.
    await page.getByLabel('Select cirros').check();
    await page.getByRole('group', { name: 'Selected images' }).getByRole('button', { name: 'Deactivate' }).click();
    await page.getByRole('dialog', { name: 'Deactivate 1 image?' }).getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await status('cirros'), 'active');

    // A queued image cannot be deactivated: the others are, and the failure is named.
    await page.getByLabel('Select old-base').check();
    await page.getByLabel('Select ubuntu-24.04').check();
    await page.getByRole('group', { name: 'Selected images' }).getByRole('button', { name: 'Deactivate' }).click();
    await page.getByRole('dialog', { name: 'Deactivate 3 images?' }).getByRole('button', { name: 'Deactivate' }).click();
    await page.getByText(/Deactivate: 2 of 3 done\. Failed — ubuntu-24\.04: /).waitFor();
    assert.deepEqual([await status('cirros'), await status('old-base'), await status('ubuntu-24.04')], ['deactivated', 'deactivated', 'queued']);
    assert.ok(errors.every((e) => e.includes('status of 403')), errors.join('\n'));
  });

  it('shares several images with a project at once: shared ones take the member, the others say why not', async () => {
    await fetch(`${server.url}/v2/images/${ids['debian-12']}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/openstack-images-v2.1-json-patch' },
      body: JSON.stringify([{ op: 'replace', path: '/visibility', value: 'private' }]),
    });
    await page.getByRole('group', { name: 'Selected images' }).waitFor({ state: 'detached' });
    await page.getByLabel('Select debian-12').check();
    await page.getByLabel('Select ubuntu-24.04').check();
    await page.getByLabel('Project to share with').fill('partner');
    await page.getByRole('group', { name: 'Selected images' }).getByRole('button', { name: 'Share' }).click();
    await page.getByRole('dialog', { name: 'Share 2 images with partner?' }).getByRole('button', { name: 'Share' }).click();
    await page.getByText(/Share: 1 of 2 done\. Failed — debian-12: /).waitFor();
    const members = async (name: string) => ((await (await call('GET', `/v2/images/${ids[name]}/members`)).json()) as { members: { member_id: string }[] }).members.map((m) => m.member_id);
    assert.deepEqual(await members('ubuntu-24.04'), ['partner']);
    assert.equal((await call('GET', `/v2/images/${ids['debian-12']}/members`)).status, 403, 'a private image has no members');
  });

  it('acts on one image from its row menu', async () => {
    await page.getByRole('group', { name: 'Selected images' }).waitFor({ state: 'detached' });
    await page.locator('summary', { hasText: '⋯' }).and(page.getByLabel('Actions for cirros')).click();
    await page.locator('tr', { has: page.getByRole('link', { name: 'cirros' }) }).getByRole('button', { name: 'Reactivate' }).click();
    await page.getByRole('dialog', { name: 'Reactivate 1 image?' }).getByRole('button', { name: 'Reactivate' }).click();
    await page.getByText('Reactivate: 1 of 1 done.').waitFor();
    assert.equal(await status('cirros'), 'active');
  });

  it('copies the id and the checksum from the image page', async () => {
    await page.goto(`${server.url}/dashboard/#/images/${ids.cirros}`);
    await page.getByRole('button', { name: 'Copy image ID' }).click();
    await page.getByRole('button', { name: 'Copy image ID' }).filter({ hasText: 'Copied' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), ids.cirros);
    await page.getByRole('button', { name: 'Copy MD5 checksum' }).click();
    const image = (await (await call('GET', `/v2/images/${ids.cirros}`)).json()) as { checksum: string };
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), image.checksum);
    await screenshot(page, '13-image-copy');
  });

  it('downloads an image from its page, with progress, byte for byte', async () => {
    await page.goto(`${server.url}/dashboard/#/images/${ids['debian-12']}`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download' }).click()]);
    assert.equal(download.suggestedFilename(), 'debian-12.raw');
    assert.ok(readFileSync(await download.path()).equals(Buffer.alloc(8192, 'debian-12')));

    // A slower, larger one: the bar moves while the bytes arrive.
    const big = Buffer.alloc(3 * 1024 * 1024, 'big-image');
    const created = (await (await call('POST', '/v2/images', { name: 'big', disk_format: 'raw', container_format: 'bare' })).json()) as { id: string };
    await fetch(`${server.url}/v2/images/${created.id}/file`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: big });
    await page.goto(`${server.url}/dashboard/#/images/${created.id}`);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: 1024 * 1024, uploadThroughput: -1 });
    const saved = page.waitForEvent('download', { timeout: 20_000 });
    await page.getByRole('button', { name: 'Download' }).click();
    await page.waitForFunction(() => {
      const bar = document.querySelector<HTMLProgressElement>('progress[aria-label="Download progress"]');
      return bar !== null && bar.value > 0 && bar.value < bar.max;
    });
    await screenshot(page, '15-image-download');
    assert.ok(readFileSync(await (await saved).path()).equals(big));
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await call('DELETE', `/v2/images/${created.id}`);
  });

  it('shows a deprecated image\'s family, replacement and schedule, and undeprecates it', async () => {
    await fetch(`${server.url}/v2/images/${ids['debian-12']}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/openstack-images-v2.1-json-patch' },
      body: JSON.stringify([{ op: 'add', path: '/glimpse_family', value: 'debian' }]),
    });
    const deprecated = await call('POST', `/v2/images/${ids['debian-12']}/actions/deprecate`, { replacement: ids.cirros, delete_at: '2099-01-01T00:00:00Z' });
    assert.equal(deprecated.status, 200);
    await page.goto(`${server.url}/dashboard/#/images/${ids['debian-12']}`);
    const note = page.getByRole('note', { name: 'Lifecycle' });
    await note.waitFor();
    assert.match(await note.innerText(), /Family: debian[\s\S]*Deprecated since .*still usable by id\.\s+Use \S+ instead\.[\s\S]*Deleted at /);
    assert.equal(await note.getByRole('link').getAttribute('href'), `#/images/${ids.cirros}`);
    await screenshot(page, '16-image-deprecated');
    await note.getByRole('button', { name: 'Undeprecate' }).click();
    await note.waitFor({ state: 'detached' });
    const image = (await (await call('GET', `/v2/images/${ids['debian-12']}`)).json()) as Record<string, unknown>;
    assert.equal(image.os_hidden, false);
    assert.equal(image.glimpse_deprecated_at, undefined);
    await page.getByLabel('Lifecycle').getByText('Family: debian').waitFor();
  });

  it('shows each image as a card on a phone, with nothing scrolling sideways', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    const phoneErrors = watchErrors(phone);
    await phone.goto(`${server.url}/dashboard/#/images`);
    await phone.getByRole('link', { name: 'debian-12' }).waitFor();
    assert.equal(await phone.locator('details.filter-panel').getAttribute('open'), null, 'filters folded away');
    const row = phone.locator('tr', { has: phone.getByRole('link', { name: 'debian-12' }) });
    assert.equal(await row.evaluate((tr) => getComputedStyle(tr).display), 'block');
    assert.equal(await row.locator('td[data-label="OS"]').evaluate((td) => getComputedStyle(td, '::before').content), '"OS"');
    assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
    await screenshot(phone, '14-images-phone-cards');
    assert.deepEqual(phoneErrors, []);
    await phone.close();
  });
});
