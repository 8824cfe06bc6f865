/**
 * The image page's Glimpse additions in Chromium (noauth, an admin): the
 * family timeline, the lineage drawing, and the readiness report of a real
 * debootstrap guest with its suggested properties applied in one click
 * (checked through the API). Screenshots land in artifacts/dashboard/.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkip, launchBrowser, openPage, screenshot } from '../helpers/browser.js';
import { guestsDir, guestsSkip, uploadFile } from '../helpers/guests.js';
import { suiteServer } from '../helpers/server.js';
import { waitFor } from '../helpers/upload.js';

describe('dashboard image page: lifecycle, lineage and readiness (noauth)', { skip: chromiumSkip() || guestsSkip() }, () => {
  const server = suiteServer({ socket: true, ini: '[glimpse_insight]\nenabled = true\n' });
  let browser: Browser;
  let page: Page;
  let errors: string[];
  const call = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(`${server.url}${url}`, {
      method,
      headers: { 'content-type': url.endsWith('/file') ? 'application/octet-stream' : 'application/json' },
      body: (body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body)) as BodyInit | undefined,
    });
    return res.status === 204 ? null : ((await res.json()) as Record<string, any>);
  };
  const create = (name: string, extra: Record<string, unknown> = {}) => call('POST', '/v2/images', { name, disk_format: 'raw', container_format: 'bare', ...extra });

  before(async () => {
    browser = await launchBrowser();
    ({ page, errors } = await openPage(browser));
    page.setDefaultTimeout(15_000);
  });
  after(() => browser?.close());

  it("draws the family's versions as a timeline, newest first, marking the latest and the deprecated", async () => {
    const first = (await create('fam-1', { glimpse_family: 'web-fam' }))!;
    await new Promise((r) => setTimeout(r, 1100)); // created_at has one-second resolution
    const second = (await create('fam-2', { glimpse_family: 'web-fam' }))!;
    for (const image of [first, second]) await call('PUT', `/v2/images/${image.id}/file`, Buffer.alloc(4096, 1));
    await call('POST', `/v2/images/${second.id}/actions/deprecate`, { replacement: first.id });
    await page.goto(`${server.url}/dashboard/#/images/${first.id}`);
    const timeline = page.getByRole('list', { name: 'Versions of the family web-fam' });
    await timeline.waitFor();
    const items = await timeline.getByRole('listitem').allInnerTexts();
    assert.equal(items.length, 2);
    assert.match(items[0], /fam-2 active\s*deprecated/);
    assert.match(items[1], /fam-1 active\s*latest/);
    assert.equal(await timeline.locator('li[aria-current="true"]').innerText().then((t) => /fam-1/.test(t)), true);
    await timeline.getByRole('link', { name: 'fam-2' }).click();
    await page.getByRole('heading', { name: 'fam-2' }).waitFor();
    await screenshot(page, '17-family-timeline');
  });

  it('draws where an image comes from and what was made from it', async () => {
    const base = (await create('base-os'))!;
    const derived = (await create('hardened', { glimpse_derived_from: base.id }))!;
    const snapshot = (await create('vm-snapshot', { base_image_ref: derived.id }))!;
    await page.goto(`${server.url}/dashboard/#/images/${derived.id}`);
    const lineage = page.getByLabel('Lineage', { exact: true });
    await lineage.waitFor();
    const text = await lineage.innerText();
    assert.match(text, /base-os[\s\S]*↓ glimpse_derived_from[\s\S]*hardened[\s\S]*↳ base_image_ref vm-snapshot/);
    assert.equal(await lineage.getByRole('link', { name: 'vm-snapshot' }).getAttribute('href'), `#/images/${snapshot.id}`);
    await screenshot(page, '18-lineage');
  });

  it('shows the readiness report of a debootstrap guest and applies its suggestions in one click', async () => {
    const image = (await create('debian-plain', { disk_format: 'qcow2' }))!;
    assert.equal(await uploadFile(server.url, image.id, path.join(guestsDir(), 'debian12-plain.qcow2')), 204);
    await page.goto(`${server.url}/dashboard/#/images/${image.id}`);
    const report = page.getByLabel('Readiness');
    await report.getByText(/debian 12 \(linux, x86_64, bios\), inspected .*: 2 pass, 4 warn, 3 fail\./).waitFor({ timeout: 60_000 });
    const cloudInit = report.locator('li.check.fail', { hasText: 'cloud-init or an equivalent' });
    assert.match(await cloudInit.innerText(), /No cloud-init[\s\S]*Fix: Install cloud-init/);
    await screenshot(page, '19-readiness');
    await page.goto(`${server.url}/dashboard/#/images`);
    const row = page.locator('table.images tbody tr', { hasText: 'debian-plain' });
    assert.equal(await row.locator('td[data-label="OS"]').innerText(), 'debian 12 (found)', 'the table falls back to what insight found');
    await page.goto(`${server.url}/dashboard/#/images/${image.id}`);
    await report.getByRole('button', { name: /^Apply 5 not set yet$/ }).click();
    await waitFor(async () => (await call('GET', `/v2/images/${image.id}`))!.os_distro === 'debian', 'the applied properties');
    const applied = (await call('GET', `/v2/images/${image.id}`))!;
    assert.deepEqual([applied.os_type, applied.os_version, applied.architecture, applied.hw_firmware_type], ['linux', '12', 'x86_64', 'bios']);
    await report.locator('table.suggestions').waitFor({ state: 'detached' });
    await page.goto(`${server.url}/dashboard/#/images`);
    await row.locator('td[data-label="OS"]', { hasText: /^debian 12$/ }).waitFor();
    assert.deepEqual(errors, []);
  });
});
