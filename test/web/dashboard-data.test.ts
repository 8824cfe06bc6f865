/**
 * The dashboard's data paths in a browser (noauth): cancelling an upload,
 * stage + glance-direct import, and a web-download the server refuses
 * (loopback URL) explained on the page.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkip, launchBrowser, openPage, rawDiskFile, throttleUploads } from '../helpers/browser.js';
import { type TestServer, startTestServer } from '../helpers/server.js';

const MiB = 1024 * 1024;

describe('dashboard data paths in a browser (noauth)', { skip: chromiumSkip() }, () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  let dir: string;
  let rawFile: string;

  const image = async (name: string) => {
    const list = (await (await fetch(`${server.url}/v2/images?name=${name}`)).json()) as { images: Record<string, unknown>[] };
    assert.equal(list.images.length, 1);
    return list.images[0];
  };
  const createForm = async (name: string, how: string) => {
    await page.goto(`${server.url}/dashboard/#/images`);
    await page.getByRole('link', { name: 'Create image' }).click();
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Disk format').selectOption('raw');
    await page.getByLabel('How').selectOption({ label: how });
  };

  before(async () => {
    server = await startTestServer();
    dir = mkdtempSync(path.join(tmpdir(), 'glimpse-dash-data-'));
    rawFile = rawDiskFile(dir, 16 * MiB);
    browser = await launchBrowser();
    ({ page, errors } = await openPage(browser));
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('never edits the wrong image: going from A\'s page straight to B\'s shows and saves B', async () => {
    const create = async (body: Record<string, unknown>) =>
      (await (await fetch(`${server.url}/v2/images`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json()) as { id: string };
    // Created in the same second: same updated_at, which the form used to reset on.
    const [a, b] = await Promise.all([create({ name: 'page-a', visibility: 'public', min_disk: 7 }), create({ name: 'page-b', visibility: 'private' })]);
    await page.goto(`${server.url}/dashboard/#/images/${a.id}`);
    const form = page.getByRole('form', { name: 'Edit image' });
    await form.getByLabel('Name').fill('page-a-edited');
    await page.goto(`${server.url}/dashboard/#/images/${b.id}`);
    await page.getByRole('heading', { name: 'page-b', exact: true }).waitFor();
    assert.equal(await form.getByLabel('Name').inputValue(), 'page-b');
    assert.equal(await form.getByLabel('Visibility').inputValue(), 'private');
    await form.getByLabel(/Minimum disk/).fill('3');
    await form.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    const shown = async (id: string) => (await (await fetch(`${server.url}/v2/images/${id}`)).json()) as Record<string, unknown>;
    const [afterA, afterB] = await Promise.all([shown(a.id), shown(b.id)]);
    assert.deepEqual([afterB.name, afterB.visibility, afterB.min_disk], ['page-b', 'private', 3]);
    assert.deepEqual([afterA.name, afterA.visibility, afterA.min_disk], ['page-a', 'public', 7]);
    await page.goBack();
    await page.getByRole('heading', { name: 'page-a', exact: true }).waitFor();
    assert.equal(await form.getByLabel('Name').inputValue(), 'page-a');
    assert.deepEqual(errors, []);
  });

  it('cancels an upload: the image is left queued, without data', async () => {
    await createForm('dash-cancel', 'Upload a file');
    await page.getByLabel('File', { exact: true }).setInputFiles(rawFile);
    const unthrottle = await throttleUploads(page, 1 * MiB);
    await page.getByRole('button', { name: 'Create image' }).click();
    await page.waitForFunction(() => (document.querySelector('progress')?.value ?? 0) > 0);
    await page.getByRole('button', { name: 'Cancel upload' }).click();
    await page.getByRole('alert').filter({ hasText: 'The upload was cancelled.' }).waitFor();
    await unthrottle();
    // The server sees the disconnect and puts the image back to queued.
    for (let i = 0; i < 50 && (await image('dash-cancel')).status !== 'queued'; i++) await new Promise((r) => setTimeout(r, 100));
    const cancelled = await image('dash-cancel');
    assert.equal(cancelled.status, 'queued');
    assert.equal(cancelled.size, null);
    assert.ok(await page.getByRole('link', { name: 'open dash-cancel' }).isVisible());
    assert.deepEqual(errors, []);
  });

  it('stages a file and imports it with glance-direct', async () => {
    await createForm('dash-staged', 'Stage a file, then import (glance-direct)');
    await page.getByLabel('File', { exact: true }).setInputFiles(rawFile);
    await page.getByRole('button', { name: 'Create image' }).click();
    await page.getByRole('heading', { name: 'dash-staged' }).waitFor();
    await page.locator('.status-active').first().waitFor({ timeout: 20_000 });
    const imported = await image('dash-staged');
    assert.equal(imported.status, 'active');
    assert.equal(imported.size, 16 * MiB);
    const tasks = (await (await fetch(`${server.url}/v2/images/${imported.id}/tasks`)).json()) as { tasks: { type: string; status: string; input: { import_req: { method: { name: string } } } }[] };
    assert.deepEqual(tasks.tasks.map((t) => [t.type, t.status, t.input.import_req.method.name]), [['api_image_import', 'success', 'glance-direct']]);
    assert.deepEqual(errors, []);
  });

  it('shows why a web-download URL is refused', async () => {
    await createForm('dash-web', 'Import from a URL (web-download)');
    await page.getByLabel('URL', { exact: true }).fill('http://127.0.0.1/disk.raw');
    await page.getByRole('button', { name: 'Create image' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    // Glance's message, without the `<br />` its error bodies carry.
    assert.match(await alert.innerText(), /^URI for web-download does not pass filtering: http:\/\/127\.0\.0\.1\/disk\.raw \(.+\)$/);
    assert.equal((await image('dash-web')).status, 'queued');
    assert.ok(errors.every((e) => /status of 40\d/.test(e)), errors.join('\n'));
  });
});
