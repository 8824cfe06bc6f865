/**
 * The dashboard's image cache page in Chromium (noauth: an admin): space and
 * hits shown, an image queued from the page and then listed as cached, one
 * removed, the queue and cache cleared; the page is absent without a cache.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkip, launchBrowser, openPage, screenshot } from '../helpers/browser.js';
import { Client } from '../helpers/client.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/upload.js';

describe('dashboard image cache page (noauth)', { skip: chromiumSkip() }, () => {
  const cacheDir = mkdtempSync(path.join(tmpdir(), 'glimpse-cache-page-'));
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let errors: string[];

  before(async () => {
    server = await startTestServer({ ini: `[DEFAULT]\nimage_cache_dir = ${cacheDir}\nimage_cache_max_size = 10485760\ncache_prefetcher_interval = 3600\n` });
    browser = await launchBrowser();
    ({ page, errors } = await openPage(browser));
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('queues an image, shows it cached with the space used, removes it and clears', async () => {
    const api = new Client(server.url);
    const image = await api.createImage({ name: 'cache-me', disk_format: 'raw', container_format: 'bare' });
    await api.upload(image.id, randomBytes(1024 * 1024));
    await page.goto(`${server.url}/dashboard/#/images`);
    await page.getByRole('link', { name: 'Cache', exact: true }).click();
    await page.getByRole('heading', { name: 'Image cache' }).waitFor();
    const form = page.getByRole('form', { name: 'Queue an image' });
    await form.getByLabel('Image ID').fill(image.id);
    await form.getByRole('button', { name: 'Queue for caching' }).click();
    await waitFor(async () => (await api.get('/v2/cache')).json.cached_images.length === 1, 'the prefetch');
    await page.getByRole('button', { name: 'Refresh' }).click();
    const row = page.getByRole('row').filter({ hasText: image.id });
    await row.filter({ hasText: 'cached' }).waitFor();
    await page.getByText('1.0 MiB of 10 MiB in 1 images').waitFor();
    await screenshot(page, 'cache');
    await page.getByRole('button', { name: `Remove ${image.id} from the cache` }).click();
    await row.waitFor({ state: 'detached' });
    assert.deepEqual((await api.get('/v2/cache')).json.cached_images, []);
    await page.getByRole('button', { name: 'Clear the queue' }).click();
    await page.getByRole('button', { name: 'Prune to the maximum' }).click();
    await page.getByRole('status').filter({ hasText: 'Pruned 0 images' }).waitFor();
    assert.deepEqual(errors, []);
  });

  it('has no cache page on a node without a cache', async () => {
    const bare = await startTestServer();
    try {
      await page.goto(`${bare.url}/dashboard/#/images`);
      await page.getByRole('link', { name: 'Metadata definitions' }).waitFor();
      assert.equal(await page.getByRole('link', { name: 'Cache', exact: true }).count(), 0);
    } finally {
      await bare.close();
    }
  });
});
