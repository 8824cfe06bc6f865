/**
 * Interoperable import and tasks: glance-direct from staging, web-download
 * from an HTTP server the test runs on loopback (allowed explicitly), SSRF
 * refusals before and after redirects, the inspector on imported data, the
 * os_glance_* properties, tasks as Glance shows them.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN, ALPHA_MEMBER, BETA_MEMBER, Client } from '../helpers/client.js';
import { hostileQcow2 } from '../helpers/images.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/upload.js';

const READY = { disk_format: 'raw', container_format: 'bare' };
const octets = { 'content-type': 'application/octet-stream' };

describe('image import', () => {
  let server: TestServer;
  let strict: TestServer;
  let api: Client;
  let origin: http.Server;
  let originUrl: string;
  const payload = randomBytes(700_000);

  before(async () => {
    origin = http.createServer((req, res) => {
      if (req.url === '/image.raw' || req.url === '/image.raw?token=abc') return void res.end(payload);
      if (req.url === '/hostile.qcow2') return void res.end(hostileQcow2());
      if (req.url === '/to-metadata') return void res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      if (req.url === '/to-localhost') return void res.writeHead(301, { location: `http://localhost:${(origin.address() as AddressInfo).port}/image.raw` }).end();
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    const port = (origin.address() as AddressInfo).port;
    originUrl = `http://127.0.0.1:${port}`;
    server = await startTestServer({
      auth: 'headers',
      ini: `[import_filtering_opts]\nallowed_hosts = 127.0.0.1\nallowed_ports = ${port}\n[glimpse]\ntask_heartbeat_seconds = 1\n`,
    });
    strict = await startTestServer({ auth: 'headers' });
    api = new Client(server.url, ALPHA_MEMBER);
  });
  after(async () => {
    await server?.close();
    await strict?.close();
    origin.close();
  });

  const settled = async (c: Client, id: string) => {
    let image: Record<string, any> = {};
    await waitFor(async () => {
      image = (await c.get(`/v2/images/${id}`)).json;
      return image.status !== 'importing';
    }, `image ${id} to finish importing`);
    return image;
  };
  const tasksOf = async (c: Client, id: string) => (await c.get(`/v2/images/${id}/tasks`)).json.tasks;

  it('imports staged data with glance-direct: active, hashed, unstaged, one successful task with the request id', async () => {
    const image = await api.createImage(READY);
    assert.equal((await api.put(`/v2/images/${image.id}/stage`, { raw: payload, headers: octets })).status, 204);
    const res = await api.post(`/v2/images/${image.id}/import`, { method: { name: 'glance-direct' } }, { headers: { 'x-openstack-request-id': 'req-import-1' } });
    assert.equal(res.status, 202, res.text);
    const done = await settled(api, image.id);
    assert.equal(done.status, 'active');
    assert.equal(done.size, payload.length);
    assert.equal(done.checksum, createHash('md5').update(payload).digest('hex'));
    assert.equal(done.virtual_size, payload.length);
    assert.equal(done.os_glance_failed_import, '');
    assert.equal(done.os_glance_importing_to_stores, '');
    assert.equal(done.os_glance_import_task, undefined);
    assert.deepEqual(readdirSync(path.join(server.dataDir, 'staging')).filter((n) => n.includes(image.id)), []);
    const download = await api.get(`/v2/images/${image.id}/file`);
    assert.equal(download.status, 200);
    const [task] = await tasksOf(api, image.id);
    assert.equal(task.type, 'api_image_import');
    assert.equal(task.status, 'success');
    assert.equal(task.request_id, 'req-import-1');
    assert.equal(task.image_id, image.id);
    assert.deepEqual(task.result, { image_id: image.id });
    assert.deepEqual(task.input.import_req, { method: { name: 'glance-direct' } });
    assert.ok(task.expires_at);
  });

  it('imports from a URL with web-download', async () => {
    const image = await api.createImage(READY);
    // (Credentials in the URL are refused; a query can carry a token too.)
    const res = await api.post(`/v2/images/${image.id}/import`, { method: { name: 'web-download', uri: `${originUrl}/image.raw?token=abc#x` } });
    assert.equal(res.status, 202, res.text);
    const done = await settled(api, image.id);
    assert.equal(done.status, 'active');
    assert.equal(done.os_hash_value, createHash('sha512').update(payload).digest('hex'));
    // Lineage records where the data came from, without the query.
    assert.equal(done.glimpse_source_url, `${originUrl}/image.raw`);
    assert.equal((await api.get(`/v2/glimpse/images/${image.id}/lineage`)).json.source_url, `${originUrl}/image.raw`);
  });

  it('runs the format inspector on imported data: a hostile image fails its import and nothing is kept', async () => {
    const image = await api.createImage({ disk_format: 'qcow2', container_format: 'bare' });
    await api.post(`/v2/images/${image.id}/import`, { method: { name: 'web-download', uri: `${originUrl}/hostile.qcow2` } });
    const done = await settled(api, image.id);
    assert.equal(done.status, 'queued');
    assert.equal(done.os_glance_failed_import, 'file');
    assert.equal(done.size, null);
    const [task] = await tasksOf(api, image.id);
    assert.equal(task.status, 'failure');
    assert.match(task.message, /backing_file \(Image has a backing file "\/etc\/passwd"\)/);
    assert.deepEqual(readdirSync(path.join(server.dataDir, 'images')).filter((n) => n.includes(image.id)), []);
  });

  it('inspects staged data as it arrives: a hostile image is refused at stage, with nothing staged', async () => {
    const image = await api.createImage({ disk_format: 'qcow2', container_format: 'bare' });
    const res = await api.put(`/v2/images/${image.id}/stage`, { raw: hostileQcow2(), headers: octets });
    assert.equal(res.status, 415);
    assert.match(res.json.message, /backing_file/);
    assert.equal((await api.get(`/v2/images/${image.id}`)).json.status, 'queued');
    assert.deepEqual(readdirSync(path.join(server.dataDir, 'staging')).filter((n) => n.includes(image.id)), []);
    const untyped = await api.createImage({});
    assert.equal((await api.put(`/v2/images/${untyped.id}/stage`, { raw: hostileQcow2(), headers: octets })).status, 204, 'without a disk_format there is nothing to judge yet');
  });

  it('refuses internal addresses by default (loopback, metadata, private ranges, names resolving to them)', async () => {
    const c = new Client(strict.url, ALPHA_MEMBER);
    for (const uri of [
      `${originUrl}/image.raw`,
      'http://127.0.0.1/image.raw',
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.1/x',
      'http://192.168.1.1/x',
      'http://[::1]/x',
      'http://[::ffff:127.0.0.1]/x',
      'http://localhost/x',
      'ftp://example.com/x',
      'file:///etc/passwd',
      'http://user:pw@example.com/x',
    ]) {
      const image = await c.createImage(READY);
      const res = await c.post(`/v2/images/${image.id}/import`, { method: { name: 'web-download', uri } });
      assert.equal(res.status, 400, `${uri}: ${res.text}`);
      assert.match(res.json.message, /URI for web-download does not pass filtering/, uri);
      assert.equal((await c.get(`/v2/images/${image.id}`)).json.status, 'queued');
    }
  });

  it('checks every redirect against the filter', async () => {
    for (const hop of ['to-metadata', 'to-localhost']) {
      const image = await api.createImage(READY);
      assert.equal((await api.post(`/v2/images/${image.id}/import`, { method: { name: 'web-download', uri: `${originUrl}/${hop}` } })).status, 202);
      const done = await settled(api, image.id);
      assert.equal(done.status, 'queued', hop);
      assert.equal(done.os_glance_failed_import, 'file');
      const [task] = await tasksOf(api, image.id);
      assert.match(task.message, /does not pass filtering/, hop);
    }
  });

  it('validates requests as Glance does', async () => {
    const image = await api.createImage(READY);
    const post = (body: unknown) => api.post(`/v2/images/${image.id}/import`, body);
    assert.equal((await post({})).status, 400);
    assert.match((await post({ method: { name: 'carrier-pigeon' } })).json.message, /Unknown import method name/);
    assert.equal((await post({ method: { name: 'glance-direct' }, all_stores: 'yes' })).status, 400);
    assert.equal((await post({ method: { name: 'glance-direct' } })).status, 409, 'nothing staged');
    assert.equal((await post({ method: { name: 'web-download' } })).status, 400, 'no uri');
    // Glance checks the image's status before policy: a member copying a queued image gets 409, not 403.
    const copy = await post({ method: { name: 'copy-image' } });
    assert.equal(copy.status, 409);
    assert.match(copy.json.message, /Only images with status active can be targeted for copying/);
    const active = await api.createImage(READY);
    assert.equal((await api.upload(active.id, Buffer.alloc(1024, 1))).status, 204);
    assert.equal((await api.post(`/v2/images/${active.id}/import`, { method: { name: 'copy-image' } })).status, 403, 'copy-image is for admins');
    const asAdmin = await api.post(`/v2/images/${active.id}/import`, { method: { name: 'copy-image' } }, { as: ADMIN });
    assert.equal(asAdmin.status, 400, 'a clear 4xx on a single store, where Glance answers 500');
    assert.match(asAdmin.json.message, /one store/);
    assert.equal((await api.post(`/v2/images/${image.id}/import`, { method: { name: 'glance-direct' } }, { as: BETA_MEMBER })).status, 404);
    const bare = await api.createImage({});
    assert.equal((await api.post(`/v2/images/${bare.id}/import`, { method: { name: 'web-download', uri: `${originUrl}/image.raw` } })).status, 409);
  });

  it('creates images with the legacy Tasks API import (admins only)', async () => {
    const admin = api.as(ADMIN);
    const body = { type: 'import', input: { import_from: `${originUrl}/image.raw`, import_from_format: 'raw', image_properties: { name: 'legacy', disk_format: 'raw', container_format: 'bare' } } };
    assert.equal((await api.post('/v2/tasks', body)).status, 403);
    const res = await admin.post('/v2/tasks', body);
    assert.equal(res.status, 201, res.text);
    assert.equal(res.headers.get('location'), `${server.url}/v2/tasks/${res.json.id}`);
    assert.equal(res.json.type, 'import');
    assert.deepEqual(res.json.input, body.input);
    let task: Record<string, any> = {};
    await waitFor(async () => {
      task = (await admin.get(`/v2/tasks/${res.json.id}`)).json;
      return task.status === 'success' || task.status === 'failure';
    }, 'the legacy import');
    assert.equal(task.status, 'success', task.message);
    const image = (await admin.get(`/v2/images/${task.result.image_id}`)).json;
    assert.equal(image.name, 'legacy');
    assert.equal(image.status, 'active');
    assert.equal(image.size, payload.length);
    assert.equal((await admin.post('/v2/tasks', { input: {} })).status, 400);
    assert.equal((await admin.post('/v2/tasks', { type: 'export', input: {} })).status, 400);
    assert.equal((await admin.post('/v2/tasks', { type: 'import', input: { ...body.input, import_from: 'file:///etc/passwd' } })).status, 400);
  });

  it('serves the legacy Tasks API to admins only', async () => {
    const image = await api.createImage(READY);
    await api.post(`/v2/images/${image.id}/import`, { method: { name: 'web-download', uri: `${originUrl}/image.raw` } });
    await settled(api, image.id);
    const [task] = await tasksOf(api, image.id);
    assert.equal((await api.get('/v2/tasks')).status, 403);
    const admin = api.as(ADMIN);
    const shown = (await admin.get(`/v2/tasks/${task.id}`)).json;
    assert.equal(shown.self, `/v2/tasks/${task.id}`);
    assert.equal(shown.schema, '/v2/schemas/task');
    assert.equal(shown.status, 'success');
    const list = (await admin.get('/v2/tasks?limit=2')).json;
    assert.equal(list.tasks.length, 2);
    assert.equal(list.tasks[0].input, undefined, 'list entries are stubs');
    assert.ok(list.next.includes('marker='));
    const next = (await admin.get(list.next)).json;
    assert.ok(!next.tasks.some((t: { id: string }) => list.tasks.some((u: { id: string }) => u.id === t.id)));
    assert.equal((await admin.get('/v2/tasks?status=bogus')).status, 400);
    assert.equal((await admin.get('/v2/tasks/not-a-uuid')).status, 404);
    const del = await admin.delete(`/v2/tasks/${task.id}`);
    assert.equal(del.status, 405);
    assert.equal(del.headers.get('allow'), 'GET');
  });
});
