/**
 * Multi-store with real backends: a file store, Swift and S3 (the Swift
 * all-in-one), plus a Swift store that cannot be written. Discovery, upload
 * to a chosen store, copy-image file → swift → s3 with byte-identical data in
 * each, imports to several stores with all_stores_must_succeed both ways,
 * and deleting an image's data from one store.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN, ALPHA_MEMBER, Client } from '../helpers/client.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { S3_ENDPOINT, SWIFT_AUTH_URL, objectNames, swiftSkip } from '../helpers/swift.js';
import { waitFor } from '../helpers/upload.js';

const octets = { 'content-type': 'application/octet-stream' };

describe('multi-store', { skip: swiftSkip() }, () => {
  const suffix = randomUUID().slice(0, 8);
  // Different names: an S3 bucket of s3api is a container of the same Swift account.
  const container = `glimpse-ms-swift-${suffix}`;
  const bucket = `glimpse-ms-s3-${suffix}`;
  let server: TestServer;
  let api: Client;
  let admin: Client;
  const swiftSection = (section: string, c: string, create: boolean) =>
    `[${section}]\nswift_store_auth_address = ${SWIFT_AUTH_URL}\nswift_store_user = test:tester\nswift_store_key = testing\nswift_store_auth_version = 1\nswift_store_container = ${c}\nswift_store_create_container_on_put = ${create}\n`;

  before(async () => {
    server = await startTestServer({
      auth: 'headers',
      ini: [
        '[DEFAULT]',
        'enabled_backends = fast:file, swift:swift, s3:s3, broken:swift',
        'show_multiple_locations = true',
        '[glance_store]',
        'default_backend = fast',
        '[fast]',
        'store_description = Local disks',
        `filesystem_store_datadir = ${path.join('/tmp', `glimpse-ms-${suffix}`)}`,
        swiftSection('swift', container, true),
        '[s3]',
        `s3_store_host = ${S3_ENDPOINT}`,
        's3_store_access_key = test:tester',
        's3_store_secret_key = testing',
        `s3_store_bucket = ${bucket}`,
        's3_store_create_bucket_on_put = true',
        swiftSection('broken', `missing-${suffix}`, false),
      ].join('\n'),
    });
    api = new Client(server.url, ALPHA_MEMBER);
    admin = new Client(server.url, ADMIN);
  });
  after(() => server?.close());

  const settled = async (id: string) => {
    let image: Record<string, any> = {};
    await waitFor(async () => {
      image = (await admin.get(`/v2/images/${id}`)).json;
      return image.status !== 'importing' && !image.os_glance_importing_to_stores && !image.os_glance_import_task;
    }, `image ${id} to settle`);
    return image;
  };
  const download = async (id: string) => Buffer.from(await (await fetch(`${server.url}/v2/images/${id}/file`, { headers: { 'x-identity-status': 'Confirmed', 'x-project-id': 'admin-project', 'x-roles': 'admin' } })).arrayBuffer());

  it('lists the stores, with details for admins, and names them on image create', async () => {
    assert.deepEqual((await api.get('/v2/info/stores')).json.stores, [
      { id: 'fast', description: 'Local disks', default: 'true' },
      { id: 'swift' },
      { id: 's3' },
      { id: 'broken' },
    ]);
    assert.equal((await api.get('/v2/info/stores/detail')).status, 403);
    const detail = (await admin.get('/v2/info/stores/detail')).json.stores;
    assert.deepEqual(detail.map((s: { type: string }) => s.type), ['file', 'swift', 's3', 'swift']);
    assert.equal(detail[1].properties.container, container);
    const created = await api.post('/v2/images', { disk_format: 'raw', container_format: 'bare' });
    assert.equal(created.headers.get('openstack-image-store-ids'), 'fast,swift,s3,broken');
  });

  it('uploads to the store X-Image-Meta-Store names and shows it in `stores`', async () => {
    const data = randomBytes(50_000);
    const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    assert.equal((await api.put(`/v2/images/${image.id}/file`, { raw: data, headers: { ...octets, 'x-image-meta-store': 'swift' } })).status, 204);
    const shown = (await api.get(`/v2/images/${image.id}`)).json;
    assert.equal(shown.stores, 'swift');
    assert.deepEqual(shown.locations[0].metadata, { store: 'swift' });
    assert.deepEqual(await objectNames(container, image.id), [image.id]);
    const other = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    assert.equal((await api.put(`/v2/images/${other.id}/file`, { raw: data, headers: { ...octets, 'x-image-meta-store': 'nowhere' } })).status, 400);
  });

  it('copies an image file → swift → s3 with byte-identical data in every store, then deletes it store by store', async () => {
    const data = randomBytes(2_000_000);
    const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    await api.put(`/v2/images/${image.id}/file`, { raw: data, headers: octets });
    assert.equal((await api.post(`/v2/images/${image.id}/import`, { method: { name: 'copy-image' }, stores: ['swift'] })).status, 403, 'copy-image is for admins');
    assert.equal((await admin.post(`/v2/images/${image.id}/import`, { method: { name: 'copy-image' }, stores: ['fast'] })).status, 400, 'already there');
    assert.equal((await admin.post(`/v2/images/${image.id}/import`, { method: { name: 'copy-image' }, stores: ['swift'] })).status, 202);
    const first = await settled(image.id);
    assert.equal(first.stores, 'fast,swift');
    assert.equal(first.glimpse_copied_from, 'fast', 'lineage: the store the copy read from');
    assert.equal((await admin.post(`/v2/images/${image.id}/import`, { method: { name: 'copy-image' }, stores: ['s3'] })).status, 202);
    const copied = await settled(image.id);
    assert.equal(copied.stores, 'fast,swift,s3');
    assert.equal(copied.status, 'active');
    assert.equal(copied.checksum, createHash('md5').update(data).digest('hex'));
    assert.deepEqual(await objectNames(bucket, image.id), [image.id]);

    assert.ok((await download(image.id)).equals(data), 'from the file store');
    assert.equal((await admin.delete(`/v2/stores/fast/${image.id}`)).status, 204);
    assert.ok((await download(image.id)).equals(data), 'from Swift');
    assert.equal((await admin.delete(`/v2/stores/swift/${image.id}`)).status, 204);
    assert.deepEqual(await objectNames(container, image.id), []);
    assert.ok((await download(image.id)).equals(data), 'from S3');
    assert.equal((await admin.get(`/v2/images/${image.id}`)).json.stores, 's3');
    assert.equal((await admin.delete(`/v2/stores/s3/${image.id}`)).status, 403, 'not the last copy');
    assert.equal((await admin.delete(`/v2/stores/swift/${image.id}`)).status, 404, 'not in that store');
    assert.equal((await admin.delete(`/v2/stores/nowhere/${image.id}`)).status, 409);
    assert.equal((await api.delete(`/v2/stores/s3/${image.id}`)).status, 403, 'admin only');
    await admin.delete(`/v2/images/${image.id}`);
    assert.deepEqual(await objectNames(bucket, image.id), []);
  });

  it('undoes a copy-image whose stores did not all succeed, and keeps the image active', async () => {
    const data = randomBytes(100_000);
    const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    await api.put(`/v2/images/${image.id}/file`, { raw: data, headers: octets });
    assert.equal((await admin.post(`/v2/images/${image.id}/import`, { method: { name: 'copy-image' }, stores: ['swift', 'broken'] })).status, 202);
    const after = await settled(image.id);
    assert.equal(after.status, 'active');
    assert.equal(after.stores, 'fast', 'the copy written to swift was undone');
    assert.equal(after.os_glance_failed_import, 'broken');
    assert.deepEqual(await objectNames(container, image.id), []);
    assert.ok((await download(image.id)).equals(data));
  });

  it('imports to several stores; a failing store reverts everything unless all_stores_must_succeed is false', async () => {
    const data = randomBytes(300_000);
    const stageAndImport = async (body: Record<string, unknown>) => {
      const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
      await api.put(`/v2/images/${image.id}/stage`, { raw: data, headers: octets });
      const res = await api.post(`/v2/images/${image.id}/import`, { method: { name: 'glance-direct' }, ...body });
      assert.equal(res.status, 202, res.text);
      return settled(image.id);
    };
    const both = await stageAndImport({ stores: ['swift', 's3'] });
    assert.equal(both.status, 'active');
    assert.equal(both.stores, 'swift,s3');
    assert.equal(both.os_glance_failed_import, '');

    const strict = await stageAndImport({ stores: ['fast', 'broken'] });
    assert.equal(strict.status, 'queued');
    assert.equal(strict.os_glance_failed_import, 'broken');
    assert.equal(strict.locations.length, 0, 'the copy in fast was removed');

    const lenient = await stageAndImport({ stores: ['fast', 'broken'], all_stores_must_succeed: false });
    assert.equal(lenient.status, 'active');
    assert.equal(lenient.stores, 'fast');
    assert.equal(lenient.os_glance_failed_import, 'broken');
    const [task] = (await api.get(`/v2/images/${lenient.id}/tasks`)).json.tasks;
    assert.equal(task.status, 'failure');
    assert.match(task.message, /broken/);

    const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    assert.equal((await api.post(`/v2/images/${image.id}/import`, { method: { name: 'glance-direct' }, stores: ['nowhere'] })).status, 409);
    assert.equal((await api.post(`/v2/images/${image.id}/import`, { method: { name: 'glance-direct' }, all_stores: true, stores: ['fast'] })).status, 400);
  });
});
