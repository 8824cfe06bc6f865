/** Unified-limit quotas: static [glimpse_limits] and Keystone's registered and project limits. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ALPHA_MEMBER, BETA_MEMBER, Client } from '../helpers/client.js';
import { KEYSTONE_DIR, KEYSTONE_INI, KEYSTONE_URL, ensureProjectUser, identityFor, issueToken, keystoneSkip } from '../helpers/keystone.js';
import { startTestServer, suiteServer } from '../helpers/server.js';
import { slowUpload, waitFor } from '../helpers/upload.js';

const READY = { disk_format: 'raw', container_format: 'bare' };
const MiB = 1024 * 1024;

describe('quotas from [glimpse_limits]', () => {
  const server = suiteServer({
    socket: true,
    auth: 'headers',
    ini: '[glimpse_limits]\nimage_count_total = 3\nimage_size_total = 1\nimage_stage_total = 1\nimage_count_uploading = 1\n',
  });
  const api = server.client(ALPHA_MEMBER);

  it('reports limits and usage, in MiB for sizes', async () => {
    const usage = (await api.get('/v2/info/usage')).json.usage;
    assert.deepEqual(usage, {
      image_size_total: { limit: 1, usage: 0 },
      image_stage_total: { limit: 1, usage: 0 },
      image_count_total: { limit: 3, usage: 0 },
      image_count_uploading: { limit: 1, usage: 0 },
    });
  });

  it('limits stored bytes per project, while streaming, and keeps nothing over it', async () => {
    const a = await api.createImage(READY);
    assert.equal((await api.upload(a.id, Buffer.alloc(700 * 1024))).status, 204);
    const b = await api.createImage(READY);
    const over = await api.upload(b.id, Buffer.alloc(700 * 1024));
    assert.equal(over.status, 413);
    assert.match(over.json.message, /image_size_total/);
    assert.equal((await api.get(`/v2/images/${b.id}`)).json.status, 'queued');
    const usage = (await api.get('/v2/info/usage')).json.usage;
    assert.equal(usage.image_size_total.usage, 1);
    assert.equal(usage.image_count_total.usage, 2);
    assert.equal((await api.upload((await api.createImage(READY, { as: BETA_MEMBER })).id, Buffer.alloc(700 * 1024), { as: BETA_MEMBER })).status, 204, 'other projects are counted apart');
    await api.delete(`/v2/images/${a.id}`);
    await api.delete(`/v2/images/${b.id}`);
  });

  it('limits the number of images, and of uploads in flight', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await api.createImage(READY)).id);
    const fourth = await api.post('/v2/images', {});
    assert.equal(fourth.status, 413);
    assert.match(fourth.json.message, /image_count_total/);
    const slow = slowUpload(`${server.url}/v2/images/${ids[0]}/file`, { 'x-identity-status': 'Confirmed', 'x-project-id': 'alpha', 'x-roles': 'member' });
    await slow.write(Buffer.alloc(1000));
    await waitFor(async () => (await api.get(`/v2/images/${ids[0]}`)).json.status === 'saving', 'saving');
    const second = await api.upload(ids[1], 'x');
    assert.equal(second.status, 413);
    assert.match(second.json.message, /image_count_uploading/);
    assert.equal(await slow.finish(), 204);
    assert.equal((await api.upload(ids[1], 'x')).status, 204);
    for (const id of ids) await api.delete(`/v2/images/${id}`);
  });

  it('limits staged bytes', async () => {
    const image = await api.createImage({});
    const res = await api.request('PUT', `/v2/images/${image.id}/stage`, { raw: Buffer.alloc(MiB + 1), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(res.status, 413);
    assert.equal((await api.get(`/v2/images/${image.id}`)).json.status, 'queued');
  });

  it('reports no usage when quotas are off, as Glance', async () => {
    const plain = await startTestServer({ auth: 'headers' });
    try {
      assert.deepEqual((await new Client(plain.url, ALPHA_MEMBER).get('/v2/info/usage')).json, { usage: {} });
    } finally {
      await plain.close();
    }
  });
});

describe('quotas from Keystone (use_keystone_limits)', { skip: keystoneSkip() }, () => {
  it('reads registered limits and project overrides for the image endpoint', async () => {
    const entities = JSON.parse(readFileSync(path.join(KEYSTONE_DIR, 'entities.json'), 'utf8'));
    const serviceId = entities.image_service.id as string;
    const endpointId = entities.image_service.endpoints.public.id as string;
    await ensureProjectUser('glimpse-quota', 'glimpse-quota-user', 'pass');
    const quotaUser = await identityFor('glimpse-quota-user', 'pass', 'glimpse-quota');
    const admin = (await issueToken('admin', 'admin-pass', 'admin')).token;
    const h = { 'x-auth-token': admin, 'content-type': 'application/json' };
    const post = async (what: string, body: unknown) => {
      const res = await fetch(`${KEYSTONE_URL}/v3/${what}`, { method: 'POST', headers: h, body: JSON.stringify(body) });
      assert.ok(res.status === 201 || res.status === 409, `${what}: ${res.status} ${await res.text()}`);
    };
    await post('registered_limits', { registered_limits: [{ service_id: serviceId, region_id: 'RegionOne', resource_name: 'image_count_total', default_limit: 100000 }] });
    await post('limits', { limits: [{ service_id: serviceId, project_id: quotaUser.project, region_id: 'RegionOne', resource_name: 'image_count_total', resource_limit: 1 }] });

    const server = await startTestServer({ auth: 'keystone', ini: `[DEFAULT]\nuse_keystone_limits = true\n[oslo_limit]\nendpoint_id = ${endpointId}\nusername = admin\npassword = admin-pass\nsystem_scope = all\n${KEYSTONE_INI()}` });
    try {
      const api = new Client(server.url, quotaUser);
      const first = await api.createImage({});
      const second = await api.post('/v2/images', {});
      assert.equal(second.status, 413);
      assert.deepEqual((await api.get('/v2/info/usage')).json.usage.image_count_total, { limit: 1, usage: 1 });
      await api.delete(`/v2/images/${first.id}`);
      assert.equal((await api.post('/v2/images', {})).status, 201);
      const alpha = new Client(server.url, await identityFor('alpha-member', 'pass', 'alpha'));
      assert.equal((await alpha.get('/v2/info/usage')).json.usage.image_count_total.limit, 100000, 'the registered default');
    } finally {
      await server.close();
    }
  });
});
