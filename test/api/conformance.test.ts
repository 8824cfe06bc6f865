/** Wire details found different from a real glance-api side by side (issue 17), pinned to Glance's. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN, Client, rawRequest } from '../helpers/client.js';
import { TEST_DIALECT } from '../helpers/databases.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/upload.js';

/** A GET without an Accept header, as scripts send it (identity as the proxy in front would set it). */
async function bareGet(url: string): Promise<{ status: number; type: string; body: string }> {
  const u = new URL(url);
  const res = await rawRequest(u.origin, 'GET', u.pathname, null, { 'x-identity-status': 'Confirmed', 'x-project-id': 'p', 'x-roles': 'admin' });
  return { status: res.status, type: String(res.headers['content-type']), body: res.body };
}

describe(`conformance with Glance on ${TEST_DIALECT}`, () => {
  let server: TestServer;
  let api: Client;

  before(async () => {
    server = await startTestServer({
      auth: 'headers',
      ini: '[DEFAULT]\nenabled_backends = cheap:file, fast:file\n[glance_store]\ndefault_backend = fast\n',
    });
    api = new Client(server.url, ADMIN);
  });
  after(() => server.close());

  it('lists stores in enabled_backends order, and an image imported to all of them in that order too', async () => {
    const stores = (await api.get('/v2/info/stores')).json.stores as { id: string; default?: boolean }[];
    assert.deepEqual(stores.map((s) => s.id), ['cheap', 'fast']);
    assert.deepEqual(stores.filter((s) => s.default).map((s) => s.id), ['fast']);
    const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    assert.equal((await api.request('PUT', `/v2/images/${image.id}/stage`, { raw: Buffer.alloc(4096, 1), headers: { 'content-type': 'application/octet-stream' } })).status, 204);
    assert.equal((await api.post(`/v2/images/${image.id}/import`, { method: { name: 'glance-direct' }, all_stores: true })).status, 202);
    await waitFor(async () => (await api.get(`/v2/images/${image.id}`)).json.stores === 'cheap,fast', 'stores "cheap,fast"', 15_000);
    const single = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    await api.upload(single.id, Buffer.alloc(1024, 2));
    assert.equal((await api.get(`/v2/images/${single.id}`)).json.stores, 'fast', 'an upload goes to the default backend');
  });

  it('advertises the versions multi-store enables, and only those (no cache: no 2.14, 2.16, 2.18)', async () => {
    const ids = (await api.get('/versions')).json.versions.map((v: { id: string }) => v.id);
    assert.deepEqual(ids, ['v2.15', 'v2.13', 'v2.12', 'v2.11', 'v2.10', 'v2.9', 'v2.8', 'v2.17', 'v2.7', 'v2.6', 'v2.5', 'v2.4', 'v2.3', 'v2.2', 'v2.1', 'v2.0']);
    assert.equal((await api.get('/v2.16/images')).status, 300, 'a version the cache would enable is not served without it');
  });

  it('answers errors in plain text to a client that sends no Accept header', async () => {
    for (const path of ['/v2/images/00000000-0000-0000-0000-000000000000', '/v2/no-such-thing']) {
      const res = await bareGet(`${server.url}${path}`);
      assert.equal(res.status, 404);
      assert.match(res.type, /^text\/plain/);
      assert.match(res.body, /^404 Not Found\n\n/);
    }
  });

  it("serves and enforces the standard properties of Glance's default schema-image.json", async () => {
    const schema = (await api.get('/v2/schemas/image')).json;
    for (const name of ['kernel_id', 'ramdisk_id', 'instance_uuid', 'architecture', 'os_distro', 'os_version', 'description', 'cinder_encryption_key_id', 'cinder_encryption_key_deletion_policy']) {
      assert.ok(schema.properties[name], `${name} in /v2/schemas/image`);
    }
    assert.deepEqual(schema.properties.cinder_encryption_key_deletion_policy.enum, ['on_image_deletion', 'do_not_delete']);
    assert.equal(schema.properties.stores.description, 'Store in which image data resides.  Only present when the operator has enabled multiple stores.  May be a comma-separated list of store identifiers.');
    assert.equal((await api.post('/v2/images', { kernel_id: 'not-a-uuid' })).status, 400);
    assert.equal((await api.post('/v2/images', { cinder_encryption_key_deletion_policy: 'sometimes' })).status, 400);
    assert.equal((await api.post('/v2/images', { os_distro: 'ubuntu', kernel_id: null })).status, 201);
  });

  it("replaces the default schema with the operator's schema-image.json, as Glance does", async () => {
    const custom = await startTestServer({ ini: '', files: { 'schema-image.json': JSON.stringify({ site_tier: { type: 'string', enum: ['gold', 'silver'] } }) } });
    try {
      const schema = (await new Client(custom.url).get('/v2/schemas/image')).json;
      assert.ok(schema.properties.site_tier);
      assert.equal(schema.properties.os_distro, undefined);
    } finally {
      await custom.close();
    }
  });
});

describe(`metadefs conformance with Glance on ${TEST_DIALECT}`, () => {
  let server: TestServer;
  let api: Client;
  const ns = '/v2/metadefs/namespaces/Conf::NS';

  before(async () => {
    server = await startTestServer({ auth: 'headers' });
    api = new Client(server.url, ADMIN);
    await api.post('/v2/metadefs/namespaces', {
      namespace: 'Conf::NS',
      resource_type_associations: [{ name: 'OS::Glance::Image', prefix: 'hw_' }],
      properties: { watchdog_action: { title: 'Watchdog', type: 'string' }, ratio: { title: 'Ratio', type: 'number', default: 1.5 } },
      objects: [{ name: 'bare-object' }],
      tags: [{ name: 'first' }],
    });
  });
  after(() => server.close());

  it('prints whole-second timestamps, updated_at from creation, associations with their timestamps', async () => {
    const whole = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
    const shown = (await api.get(ns)).json;
    const listed = (await api.get('/v2/metadefs/namespaces?limit=100')).json.namespaces.find((n: { namespace: string }) => n.namespace === 'Conf::NS');
    const types = (await api.get(`${ns}/resource_types`)).json.resource_type_associations;
    const objects = (await api.get(`${ns}/objects`)).json.objects;
    const tag = (await api.get(`${ns}/tags/first`)).json;
    for (const record of [shown, listed, shown.resource_type_associations[0], listed.resource_type_associations[0], types[0], objects[0], tag]) {
      assert.match(record.created_at, whole, JSON.stringify(record));
      assert.match(record.updated_at, whole, JSON.stringify(record));
    }
  });

  it('shows property names as stored, each in the list with its name, defaults as given', async () => {
    assert.equal((await api.get(`${ns}/properties/hw_watchdog_action?resource_type=OS::Glance::Image`)).json.name, 'watchdog_action');
    const all = (await api.get(`${ns}/properties`)).json.properties;
    assert.equal(all.watchdog_action.name, 'watchdog_action');
    assert.equal(all.ratio.name, 'ratio');
    assert.equal(all.ratio.default, 1.5);
    assert.ok((await api.get(`${ns}/properties`)).text.includes('"default":1.5'));
  });

  it('renders objects as Glance: required left out after a PUT that clears it, properties {} in a list', async () => {
    const listed = (await api.get(`${ns}/objects`)).json.objects[0];
    assert.deepEqual(listed.properties, {});
    const replaced = await api.request('PUT', `${ns}/objects/bare-object`, { body: { name: 'bare-object', description: 'd' } });
    assert.equal(replaced.status, 200);
    assert.equal('required' in replaced.json, false);
  });

  it('loads a namespace file without visibility as private', async () => {
    const res = await api.post('/v2/metadefs/namespaces', { namespace: 'Conf::Private' });
    assert.equal(res.json.visibility, 'private');
  });

  it("serves Glance's metadefs schema texts", async () => {
    const namespace = (await api.get('/v2/schemas/metadefs/namespace')).json;
    assert.equal(namespace.properties.display_name.description, 'The user friendly name for the namespace. Used by UI if available.');
    const rt = (await api.get('/v2/schemas/metadefs/resource_type')).json;
    assert.match(rt.properties.name.description, /whenever possible: https:\/\/docs\.openstack\.org\/heat\/latest\/template_guide\/openstack\.html$/);
    const properties = (await api.get('/v2/schemas/metadefs/properties')).json;
    assert.equal(properties.properties.properties.additionalProperties.name, 'property');
  });
});
