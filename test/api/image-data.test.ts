/** The data path: streaming upload and download, limits, quotas, concurrency, staging, locations. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN, ALPHA_MEMBER, BETA_MEMBER, Client, type Identity } from '../helpers/client.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { pageCacheBytes, waitForCached } from '../helpers/tools.js';
import { slowUpload, waitFor } from '../helpers/upload.js';

const READY = { disk_format: 'raw', container_format: 'bare' };
const headersOf = (who: Identity) => ({ 'x-identity-status': 'Confirmed', 'x-project-id': who.project!, 'x-roles': who.roles!.join(',') });

describe('image data', () => {
  let server: TestServer;
  let api: Client;
  const files = (dir: string, id: string) => readdirSync(path.join(server.dataDir, dir)).filter((n) => n.includes(id));
  const status = async (id: string) => (await api.get(`/v2/images/${id}`, { as: ADMIN })).json.status;

  before(async () => {
    server = await startTestServer({
      auth: 'headers',
      ini: '[DEFAULT]\nimage_size_cap = 1000000\nuser_storage_quota = 1500000\nshow_multiple_locations = true\nshow_image_direct_url = true\n',
    });
    api = new Client(server.url, ALPHA_MEMBER);
  });
  after(() => server.close());

  it('streams a chunked upload and computes what md5sum and sha512sum compute', async () => {
    const image = await api.createImage(READY);
    const data = randomBytes(300_000);
    const upload = slowUpload(`${server.url}/v2/images/${image.id}/file`, headersOf(ALPHA_MEMBER));
    for (let i = 0; i < data.length; i += 65536) await upload.write(data.subarray(i, i + 65536));
    assert.equal(await upload.finish(), 204);
    const file = path.join(server.dataDir, 'sample.bin');
    writeFileSync(file, data);
    const shown = (await api.get(`/v2/images/${image.id}`)).json;
    assert.equal(shown.checksum, execFileSync('md5sum', [file], { encoding: 'utf8' }).split(' ')[0]);
    assert.equal(shown.os_hash_value, execFileSync('sha512sum', [file], { encoding: 'utf8' }).split(' ')[0]);
    assert.equal(shown.size, data.length);
    const stored = path.join(server.dataDir, 'images', image.id);
    assert.deepEqual(shown.locations, [{ url: `file://${stored}`, metadata: {} }]);
    assert.equal(shown.direct_url, `file://${stored}`);
    const download = await api.get(`/v2/images/${image.id}/file`);
    assert.ok(Buffer.from(download.text, 'latin1').length > 0);
    const bytes = Buffer.from(await (await fetch(`${server.url}/v2/images/${image.id}/file`, { headers: headersOf(ALPHA_MEMBER) })).arrayBuffer());
    assert.ok(bytes.equals(data));
    await api.delete(`/v2/images/${image.id}`);
  });

  it('lets exactly one of several concurrent uploads win; the others get 409', async () => {
    const image = await api.createImage(READY);
    const first = slowUpload(`${server.url}/v2/images/${image.id}/file`, headersOf(ALPHA_MEMBER));
    await first.write(Buffer.alloc(1000, 1));
    await waitFor(async () => (await status(image.id)) === 'saving', 'saving');
    const others = await Promise.all([1, 2, 3].map(() => api.upload(image.id, Buffer.alloc(500, 2))));
    assert.deepEqual(others.map((r) => r.status), [409, 409, 409]);
    await first.write(Buffer.alloc(1000, 1));
    assert.equal(await first.finish(), 204);
    const shown = (await api.get(`/v2/images/${image.id}`)).json;
    assert.equal(shown.size, 2000);
    await api.delete(`/v2/images/${image.id}`);
  });

  it('returns an image to queued and keeps nothing when the client disconnects mid-upload', async () => {
    const image = await api.createImage(READY);
    const upload = slowUpload(`${server.url}/v2/images/${image.id}/file`, headersOf(ALPHA_MEMBER));
    await upload.write(randomBytes(100_000));
    await waitFor(async () => (await status(image.id)) === 'saving', 'saving');
    upload.cut();
    await waitFor(async () => (await status(image.id)) === 'queued', 'back to queued');
    await waitFor(async () => files('images', image.id).length === 0, 'partial data removed');
    const shown = (await api.get(`/v2/images/${image.id}`)).json;
    assert.equal(shown.size, null);
    assert.equal(shown.checksum, null);
    assert.equal((await api.upload(image.id, 'retry works')).status, 204);
  });

  it('refuses data over image_size_cap while streaming, and before reading when the size is known', async () => {
    const image = await api.createImage(READY);
    const upload = slowUpload(`${server.url}/v2/images/${image.id}/file`, headersOf(ALPHA_MEMBER));
    for (let i = 0; i < 12; i++) await upload.write(Buffer.alloc(100_000)).catch(() => undefined);
    const res = await upload.response;
    assert.equal(res.status, 413);
    assert.match(res.body, /image_size_cap/);
    // The client, still sending, reads the answer: the rest of the body is dropped (bounded), not left to break the pipe.
    await waitFor(async () => (await status(image.id)) === 'queued', 'queued');
    assert.deepEqual(files('images', image.id), []);
    const declared = await api.upload(image.id, 'x', { headers: { 'x-openstack-image-size': '1000001' } });
    assert.equal(declared.status, 413);
    const exact = await api.upload(image.id, Buffer.alloc(1_000_000));
    assert.equal(exact.status, 204);
    await api.delete(`/v2/images/${image.id}`);
  });

  it('enforces user_storage_quota per project', async () => {
    const a = await api.createImage(READY);
    assert.equal((await api.upload(a.id, Buffer.alloc(900_000))).status, 204);
    const b = await api.createImage(READY);
    const over = await api.upload(b.id, Buffer.alloc(700_000));
    assert.equal(over.status, 413);
    assert.match(over.json.message, /quota/);
    assert.equal(await status(b.id), 'queued');
    const betaImage = await api.createImage(READY, { as: BETA_MEMBER });
    assert.equal((await api.upload(betaImage.id, Buffer.alloc(700_000), { as: BETA_MEMBER })).status, 204, 'another project has its own quota');
    await api.delete(`/v2/images/${a.id}`);
    assert.equal((await api.upload(b.id, Buffer.alloc(700_000))).status, 204);
    await api.delete(`/v2/images/${b.id}`);
    await api.delete(`/v2/images/${betaImage.id}`, { as: BETA_MEMBER });
  });

  it('refuses uploads to active and deactivated images', async () => {
    const image = await api.createImage(READY);
    await api.upload(image.id, 'data');
    assert.equal((await api.upload(image.id, 'more')).status, 409);
    await api.post(`/v2/images/${image.id}/actions/deactivate`);
    assert.equal((await api.upload(image.id, 'more')).status, 409);
    assert.equal((await api.get(`/v2/images/${image.id}`)).json.locations.length, 0, 'no locations of a deactivated image for non-admins');
    assert.equal((await api.get(`/v2/images/${image.id}`, { as: ADMIN })).json.locations.length, 1);
    await api.delete(`/v2/images/${image.id}`);
  });

  it('deletes an image during its upload safely: the upload gets 410 and no data remains', async () => {
    const image = await api.createImage(READY);
    const upload = slowUpload(`${server.url}/v2/images/${image.id}/file`, headersOf(ALPHA_MEMBER));
    await upload.write(Buffer.alloc(5000));
    await waitFor(async () => (await status(image.id)) === 'saving', 'saving');
    assert.equal((await api.delete(`/v2/images/${image.id}`)).status, 204);
    assert.equal(await upload.finish(), 410);
    assert.deepEqual(files('images', image.id), []);
    assert.equal((await api.get(`/v2/images/${image.id}`)).status, 404);
  });

  it('shows locations only to those allowed to read them', async () => {
    const image = await api.createImage({ ...READY, visibility: 'community' });
    await api.upload(image.id, 'loc');
    assert.equal((await api.get(`/v2/images/${image.id}`)).json.locations.length, 1);
    const other = (await api.get(`/v2/images/${image.id}`, { as: BETA_MEMBER })).json;
    assert.deepEqual(other.locations, []);
    assert.equal('direct_url' in other, false);
    await api.delete(`/v2/images/${image.id}`);
  });

  it('stages data for import: uploading, sized, named by image id, removed with the image', async () => {
    const image = await api.createImage({});
    const res = await api.request('PUT', `/v2/images/${image.id}/stage`, { raw: 'staged bytes', headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(res.status, 204);
    const shown = (await api.get(`/v2/images/${image.id}`)).json;
    assert.equal(shown.status, 'uploading');
    assert.equal(shown.size, 12);
    const staged = path.join(server.dataDir, 'staging', image.id);
    assert.ok(existsSync(staged));
    assert.equal((await api.request('PUT', `/v2/images/${image.id}/stage`, { raw: 'x', headers: { 'content-type': 'application/octet-stream' } })).status, 409);
    assert.equal((await api.upload(image.id, 'x')).status, 409);
    assert.equal((await api.request('PUT', `/v2/images/${image.id}/stage`, { raw: 'x', headers: { 'content-type': 'text/plain' } })).status, 415);
    assert.equal((await api.request('PUT', `/v2/images/${image.id}/stage`, { as: BETA_MEMBER, raw: 'x', headers: { 'content-type': 'application/octet-stream' } })).status, 404);
    assert.equal((await api.delete(`/v2/images/${image.id}`)).status, 204);
    assert.equal(existsSync(staged), false);
  });

  it('refuses staging when glance-direct is not enabled', async () => {
    const other = await startTestServer({ auth: 'headers', ini: '[DEFAULT]\nenabled_import_methods = web-download\n' });
    try {
      const client = new Client(other.url, ALPHA_MEMBER);
      const image = await client.createImage({});
      const res = await client.request('PUT', `/v2/images/${image.id}/stage`, { raw: 'x', headers: { 'content-type': 'application/octet-stream' } });
      assert.equal(res.status, 404);
      assert.match(res.json.message, /'glance-direct' method is not available/);
    } finally {
      await other.close();
    }
  });
});

describe('large image data (hashed on worker threads)', () => {
  let server: TestServer;

  before(async () => {
    // Read-back off: the direct write alone is checked here, the read-back below.
    server = await startTestServer({ auth: 'headers', ini: '[DEFAULT]\nhashing_algorithm = sha384\n[glimpse]\nfile_store_cache_uploads = false\n' });
  });
  after(() => server.close());

  it('computes what md5sum and sha384sum compute, and serves the same bytes back', async () => {
    const api = new Client(server.url, ALPHA_MEMBER);
    const image = await api.createImage(READY);
    // Over the 64 MiB from which a known size hashes off-thread, not a whole number of blocks.
    const data = randomBytes(65 * 1024 * 1024 + 4099);
    const res = await fetch(`${server.url}/v2/images/${image.id}/file`, {
      method: 'PUT',
      headers: { ...headersOf(ALPHA_MEMBER), 'content-type': 'application/octet-stream', 'content-length': String(data.length) },
      body: data,
    });
    assert.equal(res.status, 204);
    const file = path.join(server.dataDir, 'large.bin');
    writeFileSync(file, data);
    const shown = (await api.get(`/v2/images/${image.id}`)).json;
    assert.equal(shown.checksum, execFileSync('md5sum', [file], { encoding: 'utf8' }).split(' ')[0]);
    assert.equal(shown.os_hash_algo, 'sha384');
    assert.equal(shown.os_hash_value, execFileSync('sha384sum', [file], { encoding: 'utf8' }).split(' ')[0]);
    assert.equal(shown.size, data.length);
    // Written past the page cache (O_DIRECT): at most the one-block alignment probe is cached.
    assert.ok(pageCacheBytes(path.join(server.dataDir, 'images', image.id)) <= 4096);
    const back = Buffer.from(await (await fetch(`${server.url}/v2/images/${image.id}/file`, { headers: headersOf(ALPHA_MEMBER) })).arrayBuffer());
    assert.ok(back.equals(data));
  });

  it('reads a direct upload back into the page cache by default (file_store_cache_uploads)', async () => {
    const cached = await startTestServer({ auth: 'headers' });
    try {
      const api = new Client(cached.url, ALPHA_MEMBER);
      const image = await api.createImage(READY);
      assert.equal((await api.upload(image.id, randomBytes(40 * 1024 * 1024))).status, 204);
      const file = path.join(cached.dataDir, 'images', image.id);
      // More than the first 32 MiB read-back step: both steps ran (a direct write alone leaves nothing cached, as above).
      await waitForCached(file, 32 * 1024 * 1024);
    } finally {
      await cached.close();
    }
  });

  it('writes through the page cache with [glimpse] file_store_direct_io = false', async () => {
    const buffered = await startTestServer({ auth: 'headers', ini: '[glimpse]\nfile_store_direct_io = false\n' });
    try {
      const api = new Client(buffered.url, ALPHA_MEMBER);
      const image = await api.createImage(READY);
      assert.equal((await api.upload(image.id, randomBytes(3 * 1024 * 1024))).status, 204);
      assert.equal(pageCacheBytes(path.join(buffered.dataDir, 'images', image.id)), 3 * 1024 * 1024);
    } finally {
      await buffered.close();
    }
  });
});
