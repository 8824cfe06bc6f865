/** The metadefs API: every endpoint, error and cascade. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ADMIN, ALPHA_MEMBER, BETA_MEMBER, Client } from '../helpers/client.js';
import { suiteServer } from '../helpers/server.js';

const NS = '/v2/metadefs/namespaces';

describe('metadefs', () => {
  const server = suiteServer({ auth: 'headers' });
  const admin = server.client(ADMIN);
  const member = server.client(ALPHA_MEMBER);

  const full = {
    namespace: 'OS::Test::Full',
    display_name: 'Full',
    description: 'A namespace with everything',
    visibility: 'public',
    protected: false,
    resource_type_associations: [{ name: 'OS::Glance::Image', prefix: 'hw_', properties_target: 'image' }],
    properties: { cpu_cores: { title: 'CPU cores', type: 'integer', minimum: 1 }, bus: { title: 'Bus', type: 'string', enum: ['virtio', 'scsi'] } },
    objects: [{ name: 'Watchdog', description: 'wd', required: ['action'], properties: { action: { title: 'Action', type: 'string' } } }],
    tags: [{ name: 'gpu' }, { name: 'fast' }],
  };

  it('creates a namespace with everything in it and shows it back', async () => {
    const res = await admin.post(NS, full);
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('location'), `${server.url}${NS}/OS::Test::Full`);
    assert.equal(res.json.owner, 'admin-project');
    const shown = (await member.get(`${NS}/OS::Test::Full`)).json;
    for (const key of ['namespace', 'display_name', 'description', 'visibility', 'protected', 'properties'] as const) {
      assert.deepEqual(shown[key], full[key], key);
    }
    assert.deepEqual(shown.objects.map(({ name, description, required, properties }: Record<string, unknown>) => ({ name, description, required, properties })), full.objects);
    assert.equal(shown.objects[0].self, `${NS}/OS::Test::Full/objects/Watchdog`);
    assert.deepEqual(shown.tags.map((t: { name: string }) => t.name).sort(), ['fast', 'gpu']);
    assert.deepEqual(shown.resource_type_associations.map(({ name, prefix, properties_target }: Record<string, string>) => ({ name, prefix, properties_target })), full.resource_type_associations);
    assert.equal(shown.self, `${NS}/OS::Test::Full`);
    assert.equal(shown.schema, '/v2/schemas/metadefs/namespace');
    const prefixed = (await member.get(`${NS}/OS::Test::Full?resource_type=OS::Glance::Image`)).json;
    assert.deepEqual(Object.keys(prefixed.properties).sort(), ['hw_bus', 'hw_cpu_cores']);
    assert.deepEqual(prefixed.objects[0].required, ['hw_action']);
    assert.equal((await admin.post(NS, { namespace: 'OS::Test::Full' })).status, 409);
  });

  it('refuses bad bodies, read-only keys, non-admin writes and invalid property definitions', async () => {
    assert.equal((await admin.post(NS, {})).status, 400);
    assert.equal((await admin.post(NS, { namespace: 'x', unknown: 1 })).status, 400);
    assert.equal((await admin.post(NS, { namespace: 'x', visibility: 'shared' })).status, 400);
    assert.equal((await admin.post(NS, { namespace: 'n'.repeat(81) })).status, 400);
    assert.equal((await admin.post(NS, { namespace: 'x', self: '/x' })).status, 403);
    assert.equal((await admin.post(NS, { namespace: 'x', properties: { p: { type: 'string' } } })).status, 400, 'title is required');
    const badPattern = await admin.post(NS, { namespace: 'x', properties: { p: { title: 'P', type: 'string', pattern: '([' } } });
    assert.equal(badPattern.status, 400);
    assert.match(badPattern.json.message, /pattern/);
    assert.equal((await admin.post(NS, { namespace: 'x', properties: { p: { title: 'P', type: 'integer', minimum: 5, maximum: 1 } } })).status, 400);
    assert.equal((await member.post(NS, { namespace: 'by-member' })).status, 403);
    assert.equal((await admin.get(`${NS}/x`)).status, 404, 'nothing was half-created');
  });

  it('lists with visibility, resource type filters and marker paging', async () => {
    await admin.post(NS, { namespace: 'OS::Test::Private', visibility: 'private' });
    await admin.post(NS, { namespace: 'OS::Test::Flavor', visibility: 'public', resource_type_associations: [{ name: 'OS::Nova::Flavor', prefix: 'hw:' }] });
    // Only this test's namespaces: a new database also holds the built-in catalog.
    const names = async (c: Client, q = '') =>
      (await c.get(`${NS}${q}${q ? '&' : '?'}limit=1000`)).json.namespaces.map((n: { namespace: string }) => n.namespace).filter((n: string) => n.startsWith('OS::Test::')).sort();
    assert.deepEqual(await names(member), ['OS::Test::Flavor', 'OS::Test::Full']);
    assert.deepEqual(await names(admin), ['OS::Test::Flavor', 'OS::Test::Full', 'OS::Test::Private']);
    assert.deepEqual(await names(admin, '?visibility=private'), ['OS::Test::Private']);
    assert.deepEqual(await names(member, '?resource_types=OS::Nova::Flavor'), ['OS::Test::Flavor']);
    assert.deepEqual(await names(member, '?resource_types=OS::Glance::Image,OS::Nova::Flavor'), ['OS::Test::Flavor', 'OS::Test::Full']);
    const page1 = (await admin.get(`${NS}?limit=2&sort_key=namespace&sort_dir=desc`)).json;
    assert.deepEqual(page1.namespaces.map((n: { namespace: string }) => n.namespace), ['OS::Test::Private', 'OS::Test::Full']);
    const page2 = (await admin.get(page1.next)).json;
    assert.deepEqual(page2.namespaces.map((n: { namespace: string }) => n.namespace)[0], 'OS::Test::Flavor');
    assert.equal(page2.namespaces.length, 2);
    assert.equal((await admin.get(`${NS}?visibility=shared`)).status, 400);
    assert.equal((await admin.get(`${NS}?sort_dir=up`)).status, 400);
    assert.equal((await admin.get(`${NS}?limit=-1`)).status, 400);
    assert.equal((await member.get(`${NS}/OS::Test::Private`)).status, 404);
    assert.equal((await member.get(`${NS}/OS::Test::Private/properties`)).status, 404);
  });

  it('creates, shows, replaces and deletes properties', async () => {
    const base = `${NS}/OS::Test::Full/properties`;
    const created = await admin.post(base, { name: 'ram', title: 'RAM', type: 'integer' });
    assert.equal(created.status, 201);
    assert.equal((await admin.post(base, { name: 'ram', title: 'RAM', type: 'integer' })).status, 409);
    assert.equal((await admin.post(base, { title: 'no name', type: 'string' })).status, 400);
    assert.equal((await member.post(base, { name: 'm', title: 'M', type: 'string' })).status, 403);
    assert.deepEqual((await member.get(`${base}/ram`)).json, { name: 'ram', title: 'RAM', type: 'integer' });
    // As Glance: the stored name, without the association's prefix.
    assert.equal((await member.get(`${base}/hw_ram?resource_type=OS::Glance::Image`)).json.name, 'ram');
    assert.equal((await member.get(`${base}/ram?resource_type=OS::Glance::Image`)).status, 404);
    const replaced = await admin.put(`${base}/ram`, { body: { name: 'memory', title: 'Memory', type: 'integer', maximum: 1024 } });
    assert.equal(replaced.status, 200);
    assert.equal((await member.get(`${base}/ram`)).status, 404);
    assert.equal((await member.get(`${base}/memory`)).json.maximum, 1024);
    assert.equal((await admin.put(`${base}/memory`, { body: { name: 'bus', title: 'x', type: 'string' } })).status, 409);
    assert.ok('memory' in (await member.get(base)).json.properties);
    assert.equal((await admin.delete(`${base}/memory`)).status, 204);
    assert.equal((await admin.delete(`${base}/memory`)).status, 404);
  });

  it('creates, replaces and deletes objects', async () => {
    const base = `${NS}/OS::Test::Full/objects`;
    const created = await admin.post(base, { name: 'Disk', required: ['size'], properties: { size: { title: 'Size', type: 'integer' } } });
    assert.equal(created.status, 201);
    assert.equal(created.json.self, `${NS}/OS::Test::Full/objects/Disk`);
    assert.equal((await admin.post(base, { name: 'Disk' })).status, 409);
    assert.equal((await admin.post(base, { name: 'Bad', properties: { p: { type: 'string' } } })).status, 400);
    const listed = (await member.get(base)).json;
    assert.deepEqual(listed.objects.map((o: { name: string }) => o.name).sort(), ['Disk', 'Watchdog']);
    assert.equal(listed.schema, 'v2/schemas/metadefs/objects');
    const replaced = await admin.put(`${base}/Disk`, { body: { name: 'Disk', description: 'now described' } });
    assert.equal(replaced.json.description, 'now described');
    assert.equal(replaced.json.required, undefined, 'a full replacement clears omitted fields (Glance then leaves `required` out)');
    assert.equal((await admin.delete(`${base}/Disk`)).status, 204);
    assert.equal((await member.get(`${base}/Disk`)).status, 404);
  });

  it('manages tags one by one and in bulk, replacing or appending', async () => {
    const base = `${NS}/OS::Test::Full/tags`;
    const one = await admin.post(`${base}/ssd`);
    assert.equal(one.status, 201);
    assert.equal(one.json.name, 'ssd');
    assert.equal((await admin.post(`${base}/ssd`)).status, 409);
    assert.equal((await admin.post(`${base}/${'t'.repeat(81)}`)).status, 400);
    const renamed = await admin.put(`${base}/ssd`, { body: { name: 'nvme' } });
    assert.equal(renamed.json.name, 'nvme');
    const replace = await admin.post(base, { tags: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] });
    assert.equal(replace.status, 201);
    assert.deepEqual((await member.get(base)).json.tags.map((t: { name: string }) => t.name).sort(), ['a', 'b', 'c']);
    const append = await admin.post(base, { tags: [{ name: 'd' }] }, { headers: { 'x-openstack-append': 'True' } });
    assert.equal(append.status, 201);
    assert.deepEqual((await member.get(`${base}?sort_key=name&sort_dir=asc`)).json.tags.map((t: { name: string }) => t.name), ['a', 'b', 'c', 'd']);
    assert.deepEqual((await member.get(`${base}?sort_key=name&sort_dir=asc&limit=2&marker=b`)).json.tags.map((t: { name: string }) => t.name), ['c', 'd']);
    assert.equal((await admin.post(base, { tags: [{ name: 'a' }] }, { headers: { 'x-openstack-append': 'yes' } })).status, 409);
    assert.equal((await admin.post(base, { tags: [{ name: 'x' }, { name: 'x' }] })).status, 409);
    assert.equal((await member.get(base)).json.tags.length, 4, 'a failed bulk create changes nothing');
    assert.equal((await admin.post(base, { tags: [{ label: 'x' }] })).status, 400);
    assert.equal((await admin.delete(`${base}/d`)).status, 204);
    assert.equal((await admin.delete(base)).status, 204);
    assert.deepEqual((await member.get(base)).json.tags, []);
  });

  it('associates resource types, creating unknown ones, and dissociates them', async () => {
    const base = `${NS}/OS::Test::Private/resource_types`;
    const created = await admin.post(base, { name: 'OS::Cinder::Volume', prefix: 'hw_', properties_target: 'image' });
    assert.equal(created.status, 201);
    assert.equal(created.json.properties_target, 'image');
    assert.equal((await admin.post(base, { name: 'OS::Cinder::Volume' })).status, 409);
    assert.equal((await admin.post(base, { name: 'x', colour: 'red' })).status, 400);
    assert.deepEqual((await admin.get(base)).json.resource_type_associations.map((a: { name: string }) => a.name), ['OS::Cinder::Volume']);
    await admin.post(`${NS}/OS::Test::Private/resource_types`, { name: 'OS::Test::Thing' });
    const types = (await member.get('/v2/metadefs/resource_types')).json.resource_types.map((r: { name: string }) => r.name);
    for (const t of ['OS::Cinder::Volume', 'OS::Glance::Image', 'OS::Nova::Flavor', 'OS::Test::Thing']) assert.ok(types.includes(t), t);
    assert.equal((await admin.delete(`${base}/OS::Cinder::Volume`)).status, 204);
    assert.equal((await admin.delete(`${base}/OS::Cinder::Volume`)).status, 404);
  });

  it('protects a protected namespace and everything in it from deletion', async () => {
    await admin.post(NS, { namespace: 'OS::Test::Locked', visibility: 'public', protected: true, properties: { p: { title: 'P', type: 'string' } }, tags: [{ name: 't' }] });
    const base = `${NS}/OS::Test::Locked`;
    for (const path of ['', '/properties', '/properties/p', '/tags', '/tags/t', '/objects']) {
      assert.equal((await admin.delete(`${base}${path}`)).status, 403, path);
    }
    assert.equal((await member.delete(base)).status, 403);
    assert.equal((await admin.post(`${base}/tags/new`)).status, 201, 'creating inside stays allowed');
    const unlocked = await admin.put(base, { body: { namespace: 'OS::Test::Locked', visibility: 'private', protected: false } });
    assert.equal(unlocked.status, 200);
    assert.equal(unlocked.json.protected, false);
    assert.equal((await member.get(base)).status, 404, 'now private to its owner');
    assert.equal((await admin.delete(base)).status, 204);
    assert.equal((await admin.get(base)).status, 404);
  });

  it('renames a namespace with PUT and cascades deletes to its children', async () => {
    await admin.post(NS, { namespace: 'OS::Test::Old', properties: { p: { title: 'P', type: 'string' } }, objects: [{ name: 'o' }], tags: [{ name: 't' }], resource_type_associations: [{ name: 'OS::Glance::Image' }] });
    assert.equal((await admin.put(`${NS}/OS::Test::Old`, { body: { namespace: 'OS::Test::Full' } })).status, 409);
    const renamed = await admin.put(`${NS}/OS::Test::Old`, { body: { namespace: 'OS::Test::New', display_name: 'New' } });
    assert.equal(renamed.status, 200);
    assert.equal(renamed.json.visibility, 'private', 'omitted attributes take their defaults');
    assert.equal((await admin.get(`${NS}/OS::Test::New/properties/p`)).status, 200);
    assert.equal((await admin.delete(`${NS}/OS::Test::New/properties`)).status, 204);
    assert.deepEqual((await admin.get(`${NS}/OS::Test::New/properties`)).json.properties, {});
    assert.equal((await admin.delete(`${NS}/OS::Test::New/objects`)).status, 204);
    assert.deepEqual((await admin.get(`${NS}/OS::Test::New/objects`)).json.objects, []);
    assert.equal((await admin.delete(`${NS}/OS::Test::New`)).status, 204);
    assert.equal((await admin.post(NS, { namespace: 'OS::Test::New', tags: [{ name: 't' }] })).status, 201, 'the name and its children are gone for good');
  });

  it('serves every metadefs schema document', async () => {
    for (const name of ['namespace', 'namespaces', 'resource_type', 'resource_types', 'property', 'properties', 'object', 'objects', 'tag', 'tags']) {
      const res = await member.get(`/v2/schemas/metadefs/${name}`);
      assert.equal(res.status, 200, name);
    }
    assert.equal((await member.get('/v2/schemas/metadefs/resource_type')).json.name, 'resource_type_association');
    assert.equal((await member.get('/v2/schemas/metadefs/namespace')).json.additionalProperties, false);
    assert.equal((await member.get(`${NS}`, { as: BETA_MEMBER })).status, 200);
  });
});
