/**
 * The image cache on real servers: queueing and prefetching, downloads
 * served from the cache (proved by removing the store's copy), a miss filling
 * the cache in the same pass, ranges from the cache, a corrupt copy refused
 * and moved to invalid/, purges on deactivate and delete, pruning in LRU
 * order, cleaning, the API's policies and codes, the version list, and two
 * nodes on one database keeping separate node_reference rows and caches.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ADMIN, ALPHA_MEMBER, Client } from '../helpers/client.js';
import { type TestDatabase, TEST_DIALECT, createTestDatabase } from '../helpers/databases.js';
import { startTestServer, suiteServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/upload.js';

const SIZE = 100_000;
const adminHeaders = { 'x-identity-status': 'Confirmed', 'x-project-id': 'admin-project', 'x-roles': 'admin' };

async function download(server: TestServer, id: string, range?: string): Promise<{ status: number; body: Buffer | null }> {
  try {
    const res = await fetch(`${server.url}/v2/images/${id}/file`, { headers: { ...adminHeaders, ...(range ? { range } : {}) } });
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
  } catch {
    return { status: 0, body: null }; // the response was cut
  }
}

describe('image cache', () => {
  const cacheDir = mkdtempSync(path.join(tmpdir(), 'glimpse-cache-'));
  const server = suiteServer({
    socket: true,
    auth: 'headers',
    ini: ['[DEFAULT]', `image_cache_dir = ${cacheDir}`, `image_cache_max_size = ${SIZE * 2 + SIZE / 2}`, 'worker_self_reference_url = http://node-a:9292', 'cache_prefetcher_interval = 3600'].join('\n'),
  });
  const admin = server.client(ADMIN);
  after(async () => {
    rmSync(cacheDir, { recursive: true, force: true });
  });

  const active = async (bytes = randomBytes(SIZE)) => {
    const image = await admin.createImage({ disk_format: 'raw', container_format: 'bare' });
    assert.equal((await admin.upload(image.id, bytes)).status, 204);
    return { id: image.id as string, bytes, stored: path.join(server.dataDir, 'images', image.id) };
  };
  const cachedIds = async () => (await admin.get('/v2/cache')).json.cached_images.map((c: { image_id: string }) => c.image_id) as string[];
  const cacheFile = (id: string, sub = '') => path.join(cacheDir, sub, id);
  // A fill renames its copy into place and then records it: wait for the record, which comes last.
  const filled = (id: string) => waitFor(async () => (await cachedIds()).includes(id) && existsSync(cacheFile(id)), 'the filled copy');

  it('advertises v2.14–v2.18, with 2.18 current', async () => {
    const versions = (await admin.get('/versions')).json.versions as { id: string; status: string }[];
    assert.deepEqual(versions.filter((v) => v.status === 'CURRENT').map((v) => v.id), ['v2.18']);
    for (const id of ['v2.14', 'v2.16', 'v2.17']) assert.ok(versions.some((v) => v.id === id), id);
  });

  it('prefetches a queued image and then serves it from the cache, even with the store\'s copy gone', async () => {
    const image = await active();
    assert.equal((await admin.put(`/v2/cache/${image.id}`)).status, 202);
    await waitFor(async () => (await cachedIds()).includes(image.id), 'the prefetcher');
    const state = (await admin.get('/v2/cache')).json;
    assert.deepEqual(state.queued_images, []);
    const entry = state.cached_images.find((c: { image_id: string }) => c.image_id === image.id);
    assert.equal(entry.size, SIZE);
    assert.equal(entry.hits, 0);
    assert.equal(typeof entry.last_accessed, 'number');

    renameSync(image.stored, `${image.stored}.away`); // the store can no longer serve it
    const whole = await download(server, image.id);
    assert.equal(whole.status, 200);
    assert.ok(whole.body!.equals(image.bytes));
    const part = await download(server, image.id, 'bytes=10-19');
    assert.equal(part.status, 206);
    assert.ok(part.body!.equals(image.bytes.subarray(10, 20)));
    const hits = (await admin.get('/v2/cache')).json.cached_images.find((c: { image_id: string }) => c.image_id === image.id).hits;
    assert.equal(hits, 2);
    renameSync(`${image.stored}.away`, image.stored);
  });

  it('fills the cache from a whole download, in the same pass, and never from a ranged one', async () => {
    const image = await active();
    assert.equal((await download(server, image.id, 'bytes=0-9')).status, 206);
    assert.ok(!existsSync(cacheFile(image.id)));
    const [one, two] = await Promise.all([download(server, image.id), download(server, image.id)]);
    assert.ok(one.body!.equals(image.bytes) && two.body!.equals(image.bytes), 'two concurrent misses both get the bytes');
    await filled(image.id);
    assert.ok(readFileSync(cacheFile(image.id)).equals(image.bytes));
    assert.deepEqual(readdirSync(path.join(cacheDir, 'incomplete')), [], 'nothing left half-written');
  });

  it('refuses a corrupt copy, moving it to invalid/, and serves the store\'s bytes next', async () => {
    const image = await active();
    await download(server, image.id);
    await filled(image.id);
    const corrupt = Buffer.from(image.bytes);
    corrupt[500] ^= 0xff;
    writeFileSync(cacheFile(image.id), corrupt);
    const cut = await download(server, image.id);
    assert.ok(cut.body === null || !cut.body.equals(corrupt), 'the corrupt copy is never served whole');
    await waitFor(async () => existsSync(cacheFile(image.id, 'invalid')), 'the copy moved to invalid/');
    assert.ok(!(await cachedIds()).includes(image.id));
    const again = await download(server, image.id);
    assert.ok(again.body!.equals(image.bytes));
    writeFileSync(cacheFile(image.id), Buffer.alloc(10)); // truncated: the wrong size
    const served = await download(server, image.id);
    assert.ok(served.body!.equals(image.bytes), 'a truncated copy is bypassed');
    assert.equal((await admin.post('/v2/cache/clean')).status, 200);
    assert.deepEqual(readdirSync(path.join(cacheDir, 'invalid')), [], 'clean empties invalid/');
  });

  it('drops the copy of an image deactivated or deleted', async () => {
    const image = await active();
    await download(server, image.id);
    await filled(image.id);
    assert.equal((await admin.post(`/v2/images/${image.id}/actions/deactivate`)).status, 204);
    assert.ok(!existsSync(cacheFile(image.id)));
    assert.equal((await admin.post(`/v2/images/${image.id}/actions/reactivate`)).status, 204);
    await download(server, image.id);
    await filled(image.id);
    assert.equal((await admin.delete(`/v2/images/${image.id}`)).status, 204);
    assert.ok(!existsSync(cacheFile(image.id)));
    assert.ok(!(await cachedIds()).includes(image.id));
  });

  it('drops the copy a download was filling when the image is deactivated mid-way', async () => {
    const image = await active(randomBytes(32 * 1024 * 1024)); // more than the socket buffers hold
    const res = await fetch(`${server.url}/v2/images/${image.id}/file`, { headers: adminHeaders });
    const reader = res.body!.getReader();
    let received = (await reader.read()).value!.length;
    assert.ok(existsSync(cacheFile(image.id, 'incomplete')), 'the fill is under way');
    assert.equal((await admin.post(`/v2/images/${image.id}/actions/deactivate`)).status, 204);
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) received += chunk.value.length;
    assert.equal(received, image.bytes.length, 'the download already started completes');
    await waitFor(async () => !existsSync(cacheFile(image.id, 'incomplete')), 'the fill to end');
    assert.ok(!existsSync(cacheFile(image.id)), 'no copy of the deactivated image');
    assert.ok(!(await cachedIds()).includes(image.id));
  });

  it('prunes least-recently-accessed copies first, down to image_cache_max_size', async () => {
    assert.equal((await admin.delete('/v2/cache', { headers: { 'x-image-cache-clear-target': 'cache' } })).status, 204);
    const [a, b, c] = [await active(), await active(), await active()];
    // Glance's MySQL schema keeps last_accessed in whole seconds: accesses there are a second apart to be ordered.
    const apart = () => new Promise((r) => setTimeout(r, TEST_DIALECT === 'mysql' ? 1100 : 20));
    for (const image of [a, b, c]) {
      await download(server, image.id);
      await filled(image.id);
      await apart();
    }
    await download(server, a.id); // a is now the most recently used; b the least
    const pruned = await admin.post('/v2/cache/prune');
    assert.equal(pruned.status, 200);
    assert.deepEqual(pruned.json, { total_files_pruned: 1, total_bytes_pruned: SIZE });
    assert.deepEqual((await cachedIds()).sort(), [a.id, c.id].sort());
  });

  it('keeps the API to admins, with Glance\'s codes', async () => {
    const image = await active();
    const member = new Client(server.url, ALPHA_MEMBER);
    assert.equal((await member.get('/v2/cache')).status, 403);
    assert.equal((await member.put(`/v2/cache/${image.id}`)).status, 404, 'not visible to the member');
    assert.equal((await admin.put('/v2/cache/00000000-0000-4000-8000-000000000000')).status, 404);
    const queued = await admin.createImage({ disk_format: 'raw', container_format: 'bare' });
    assert.equal((await admin.put(`/v2/cache/${queued.id}`)).status, 400, 'only active images');
    assert.equal((await admin.delete('/v2/cache', { headers: { 'x-image-cache-clear-target': 'both' } })).status, 400);
    assert.equal((await admin.delete('/v2/cache', { headers: { 'x-image-cache-clear-target': 'queue' } })).status, 204);
    assert.equal((await admin.delete(`/v2/cache/${image.id}`)).status, 204);
    assert.deepEqual((await admin.get(`/v2/cache/nodes/${image.id}`)).json, []);
    await download(server, image.id);
    await filled(image.id);
    assert.deepEqual((await admin.get(`/v2/cache/nodes/${image.id}`)).json, ['http://node-a:9292']);
  });
});

describe('no image cache', () => {
  it('answers the cache API with 404 for admins and 403 for others, and keeps v2.17 current', async () => {
    const server = await startTestServer({ auth: 'headers' });
    try {
      assert.equal((await new Client(server.url, ADMIN).get('/v2/cache')).status, 404);
      assert.equal((await new Client(server.url, ALPHA_MEMBER).get('/v2/cache')).status, 403);
      const versions = (await new Client(server.url, ADMIN).get('/versions')).json.versions as { id: string; status: string }[];
      assert.deepEqual(versions.filter((v) => v.status === 'CURRENT').map((v) => v.id), ['v2.17']);
      assert.ok(!versions.some((v) => v.id === 'v2.18' || v.id === 'v2.14'));
    } finally {
      await server.close();
    }
  });
});

describe('image caches of two nodes on one database', () => {
  const dirs = [mkdtempSync(path.join(tmpdir(), 'glimpse-cache-a-')), mkdtempSync(path.join(tmpdir(), 'glimpse-cache-b-'))];
  const shared = mkdtempSync(path.join(tmpdir(), 'glimpse-cache-db-'));
  let database: TestDatabase | null = null;
  const nodes: TestServer[] = [];
  after(async () => {
    for (const node of nodes) await node.close();
    await database?.drop();
    for (const dir of [...dirs, shared]) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps a node_reference row and a cache per node', async () => {
    database = await createTestDatabase(TEST_DIALECT);
    const url = database?.url ?? `sqlite:///${path.join(shared, 'glimpse.sqlite')}`;
    const images = path.join(shared, 'images');
    for (const [i, dir] of dirs.entries()) {
      nodes.push(
        await startTestServer({
          auth: 'headers',
          database: url,
          ini: ['[DEFAULT]', `image_cache_dir = ${dir}`, `worker_self_reference_url = http://node-${i}:9292`, '[glance_store]', `filesystem_store_datadir = ${images}`].join('\n'),
        }),
      );
    }
    const [a, b] = nodes.map((n) => new Client(n.url, ADMIN));
    const image = await a.createImage({ disk_format: 'raw', container_format: 'bare' });
    await a.upload(image.id, randomBytes(SIZE));
    await download(nodes[0], image.id);
    await waitFor(async () => (await a.get('/v2/cache')).json.cached_images.length === 1, 'node 0 caching the image');
    assert.deepEqual((await b.get('/v2/cache')).json.cached_images, [], 'node 1 has its own cache');
    assert.ok(!existsSync(path.join(dirs[1], image.id)));
    assert.deepEqual((await b.get(`/v2/cache/nodes/${image.id}`)).json, ['http://node-0:9292']);
    await download(nodes[1], image.id);
    await waitFor(async () => (await b.get('/v2/cache')).json.cached_images.length === 1, 'node 1 caching the image');
    assert.deepEqual(((await a.get(`/v2/cache/nodes/${image.id}`)).json as string[]).sort(), ['http://node-0:9292', 'http://node-1:9292']);
  });
});
