/**
 * The image cache in front of a remote store (the Swift all-in-one): a
 * queued image is prefetched from Swift, then served from the node's disk
 * with Swift's copy deleted; a deactivated image's copy goes; an incomplete
 * copy past image_cache_stall_time is cleaned.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '../helpers/client.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { swift, swiftSkip, swiftStoreIni } from '../helpers/swift.js';
import { waitFor } from '../helpers/upload.js';

describe('image cache in front of Swift', { skip: swiftSkip() }, () => {
  const cacheDir = mkdtempSync(path.join(tmpdir(), 'glimpse-cache-swift-'));
  const container = `glimpse-cache-${randomUUID().slice(0, 8)}`;
  let server: TestServer;
  let api: Client;

  before(async () => {
    server = await startTestServer({
      ini: `[DEFAULT]\nimage_cache_dir = ${cacheDir}\nimage_cache_stall_time = 60\ncache_prefetcher_interval = 3600\n${swiftStoreIni(container)}`,
    });
    api = new Client(server.url);
  });
  after(async () => {
    await server?.close();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('prefetches from Swift and serves from the cache once Swift\'s copy is gone', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 7);
    const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    assert.equal((await api.upload(image.id, bytes)).status, 204);
    assert.equal((await api.put(`/v2/cache/${image.id}`)).status, 202);
    // The prefetcher renames its copy into place and then records it: wait for the record.
    await waitFor(async () => (await api.get('/v2/cache')).json.cached_images.length === 1 && existsSync(path.join(cacheDir, image.id)), 'the prefetch from Swift');
    // Segments and manifest removed in Swift: only the cache can serve the image now.
    const listing = await swift('GET', `${container}?format=json&prefix=${image.id}`);
    for (const { name } of JSON.parse(listing.text) as { name: string }[]) await swift('DELETE', `${container}/${name}`);
    const res = await fetch(`${server.url}/v2/images/${image.id}/file`);
    assert.equal(res.status, 200);
    assert.equal(createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex'), createHash('sha256').update(bytes).digest('hex'));
    assert.equal((await api.get('/v2/cache')).json.cached_images[0].hits, 1);

    assert.equal((await api.post(`/v2/images/${image.id}/actions/deactivate`)).status, 204);
    assert.ok(!existsSync(path.join(cacheDir, image.id)), 'deactivation purges the copy');
  });

  it('cleans incomplete copies older than image_cache_stall_time, and keeps fresh ones', async () => {
    const stalled = path.join(cacheDir, 'incomplete', randomUUID());
    const fresh = path.join(cacheDir, 'incomplete', randomUUID());
    writeFileSync(stalled, 'half');
    writeFileSync(fresh, 'half');
    const old = new Date(Date.now() - 120_000);
    utimesSync(stalled, old, old);
    assert.equal((await api.post('/v2/cache/clean')).status, 200);
    assert.ok(!existsSync(stalled));
    assert.ok(existsSync(fresh));
  });
});
