/** PATCH /v2/images/{id}: both patch dialects, every op, and every refusal. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ADMIN, ALPHA_MEMBER, ALPHA_READER, BETA_MEMBER } from '../helpers/client.js';
import { suiteServer } from '../helpers/server.js';

const V20 = 'application/openstack-images-v2.0-json-patch';

describe('image update', () => {
  const server = suiteServer({ auth: 'headers', ini: '[DEFAULT]\nimage_property_quota = 3\nimage_tag_quota = 2\n' });
  const api = server.client(ALPHA_MEMBER);

  it('replaces base attributes and adds, replaces and removes properties', async () => {
    const image = await api.createImage({ name: 'before', foo: 'bar' });
    const res = await api.patch(`/v2/images/${image.id}`, [
      { op: 'replace', path: '/name', value: 'after' },
      { op: 'replace', path: '/min_disk', value: 20 },
      { op: 'add', path: '/min_ram', value: 1024 },
      { op: 'add', path: '/protected', value: true },
      { op: 'replace', path: '/os_hidden', value: true },
      { op: 'replace', path: '/disk_format', value: 'qcow2' },
      { op: 'replace', path: '/container_format', value: 'bare' },
      { op: 'replace', path: '/visibility', value: 'private' },
      { op: 'add', path: '/hw_disk_bus', value: 'virtio' },
      { op: 'replace', path: '/foo', value: 'baz' },
      { op: 'add', path: '/owner_specified.openstack.md5', value: 'abc' },
      { op: 'replace', path: '/tags', value: ['one', 'two', 'one'] },
    ]);
    assert.equal(res.status, 200);
    const expected = {
      name: 'after', min_disk: 20, min_ram: 1024, protected: true, os_hidden: true, disk_format: 'qcow2',
      container_format: 'bare', visibility: 'private', hw_disk_bus: 'virtio', foo: 'baz', 'owner_specified.openstack.md5': 'abc',
    };
    const shown = (await api.get(`/v2/images/${image.id}`)).json;
    for (const [k, v] of Object.entries(expected)) {
      assert.deepEqual(res.json[k], v, k);
      assert.deepEqual(shown[k], v, k);
    }
    assert.deepEqual([...shown.tags].sort(), ['one', 'two']);
    const removed = await api.patch(`/v2/images/${image.id}`, [{ op: 'remove', path: '/foo' }]);
    assert.equal(removed.status, 200);
    assert.equal('foo' in removed.json, false);
    // re-adding a removed property revives it
    const readded = await api.patch(`/v2/images/${image.id}`, [{ op: 'add', path: '/foo', value: 'again' }]);
    assert.equal(readded.json.foo, 'again');
    assert.ok(Date.parse(shown.updated_at) >= Date.parse(image.updated_at));
  });

  it('decodes JSON-pointer escapes in property names', async () => {
    const image = await api.createImage({});
    const res = await api.patch(`/v2/images/${image.id}`, [{ op: 'add', path: '/a~1b~0c', value: 'x' }]);
    assert.equal(res.json['a/b~c'], 'x');
  });

  it('speaks the v2.0 dialect, where add on an existing attribute is a conflict', async () => {
    const image = await api.createImage({ foo: 'bar' });
    const ok = await api.patch(`/v2/images/${image.id}`, [{ replace: '/name', value: 'v20' }, { add: '/new', value: 'x' }, { remove: '/foo' }], { mediaType: V20 });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.name, 'v20');
    assert.equal(ok.json.new, 'x');
    assert.equal('foo' in ok.json, false);
    assert.equal((await api.patch(`/v2/images/${image.id}`, [{ add: '/new', value: 'y' }], { mediaType: V20 })).status, 409);
    assert.equal((await api.patch(`/v2/images/${image.id}`, [{ add: '/name', value: 'y' }], { mediaType: V20 })).status, 409);
    assert.equal((await api.patch(`/v2/images/${image.id}`, [{ add: '/a', replace: '/b', value: 'y' }], { mediaType: V20 })).status, 400);
    assert.equal((await api.patch(`/v2/images/${image.id}`, [{ value: 'y' }], { mediaType: V20 })).status, 400);
  });

  it('refuses other media types with 415 and Accept-Patch', async () => {
    const image = await api.createImage({});
    for (const type of ['application/json', 'application/json-patch+json', 'text/plain']) {
      const res = await api.patch(`/v2/images/${image.id}`, [], { mediaType: type });
      assert.equal(res.status, 415, type);
      assert.equal(res.headers.get('accept-patch'), `${V20}, application/openstack-images-v2.1-json-patch`);
    }
  });

  it('refuses malformed patch documents with 400 and changes nothing', async () => {
    const image = await api.createImage({ name: 'keep' });
    const bad: unknown[] = [
      { op: 'replace', path: '/name', value: 'x' },
      [{ op: 'move', path: '/name', value: 'x' }],
      [{ op: 'test', path: '/name', value: 'x' }],
      [{ path: '/name', value: 'x' }],
      [{ op: 'replace', value: 'x' }],
      [{ op: 'replace', path: '/name' }],
      [{ op: 'replace', path: 'name', value: 'x' }],
      [{ op: 'replace', path: '/name/', value: 'x' }],
      [{ op: 'replace', path: '//name', value: 'x' }],
      [{ op: 'add', path: '/tags/-', value: 'x' }],
      [{ op: 'add', path: '/a~2', value: 'x' }],
      ['op'],
      [{ op: 'replace', path: '/name', value: 'x' }, { op: 'replace', path: '/min_ram', value: 'lots' }],
      [{ op: 'replace', path: '/visibility', value: 'everyone' }],
      [{ op: 'add', path: '/custom', value: 12 }],
      [{ op: 'replace', path: '/min_ram', value: -5 }],
      [{ op: 'replace', path: '/name', value: 'x'.repeat(256) }],
      [{ op: 'replace', path: '/tags', value: ['t'.repeat(256)] }],
      [{ op: 'add', path: '/emoji', value: '\u{1F600}' }],
    ];
    for (const ops of bad) {
      const res = await api.patch(`/v2/images/${image.id}`, ops);
      assert.equal(res.status, 400, JSON.stringify(ops));
    }
    assert.equal((await api.get(`/v2/images/${image.id}`)).json.name, 'keep');
  });

  it('refuses read-only and reserved paths with 403 and removal of base attributes', async () => {
    const image = await api.createImage({});
    for (const key of ['id', 'status', 'checksum', 'size', 'virtual_size', 'created_at', 'updated_at', 'os_hash_algo', 'os_hash_value', 'direct_url', 'self', 'file', 'schema']) {
      const res = await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: `/${key}`, value: 'x' }]);
      assert.equal(res.status, 403, key);
    }
    for (const key of ['deleted', 'deleted_at', 'location', 'os_glance_import_task']) {
      assert.equal((await api.patch(`/v2/images/${image.id}`, [{ op: 'add', path: `/${key}`, value: 'x' }])).status, 403, key);
    }
    assert.equal((await api.patch(`/v2/images/${image.id}`, [{ op: 'remove', path: '/name' }])).status, 403);
    assert.equal((await api.patch(`/v2/images/${image.id}`, [{ op: 'add', path: '/locations/-', value: { url: 'file:///etc/passwd', metadata: {} } }])).status, 403);
  });

  it('answers 409 for replacing or removing a missing property', async () => {
    const image = await api.createImage({});
    const replace = await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/nope', value: 'x' }]);
    assert.equal(replace.status, 409);
    assert.match(replace.json.message, /Property nope does not exist/);
    assert.equal((await api.patch(`/v2/images/${image.id}`, [{ op: 'remove', path: '/nope' }])).status, 409);
  });

  it('applies the owner, visibility and format rules', async () => {
    const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    assert.equal((await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/owner', value: 'beta' }])).status, 403);
    assert.equal((await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/visibility', value: 'public' }])).status, 403);
    assert.equal((await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/visibility', value: 'community' }])).status, 200);
    const byAdmin = await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/visibility', value: 'public' }], { as: ADMIN });
    assert.equal(byAdmin.json.visibility, 'public');
    assert.equal((await api.upload(image.id, 'data')).status, 204);
    const format = await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/disk_format', value: 'qcow2' }]);
    assert.equal(format.status, 403);
    assert.equal((await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/container_format', value: 'ovf' }])).status, 403);
    assert.equal((await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/disk_format', value: 'raw' }])).status, 200);
    const moved = await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/owner', value: 'beta' }], { as: ADMIN });
    assert.equal(moved.json.owner, 'beta');
  });

  it('enforces the property and tag quotas with 413', async () => {
    const image = await api.createImage({ a: '1', b: '2' });
    assert.equal((await api.patch(`/v2/images/${image.id}`, [{ op: 'add', path: '/c', value: '3' }])).status, 200);
    const over = await api.patch(`/v2/images/${image.id}`, [{ op: 'add', path: '/d', value: '4' }]);
    assert.equal(over.status, 413);
    assert.equal((await api.patch(`/v2/images/${image.id}`, [{ op: 'remove', path: '/a' }, { op: 'add', path: '/d', value: '4' }])).status, 200);
    assert.equal((await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/tags', value: ['x', 'y', 'z'] }])).status, 413);
    assert.deepEqual((await api.get(`/v2/images/${image.id}`)).json.tags, []);
  });

  it('hides other projects\' private images (404) and refuses readers and non-owners (403)', async () => {
    const image = await api.createImage({ visibility: 'private' });
    assert.equal((await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/name', value: 'x' }], { as: BETA_MEMBER })).status, 404);
    assert.equal((await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/name', value: 'x' }], { as: ALPHA_READER })).status, 403);
    const community = await api.createImage({ visibility: 'community' });
    assert.equal((await api.patch(`/v2/images/${community.id}`, [{ op: 'replace', path: '/name', value: 'x' }], { as: BETA_MEMBER })).status, 403);
    assert.equal((await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/name', value: 'by-admin' }], { as: ADMIN })).status, 200);
    assert.equal((await api.patch('/v2/images/00000000-0000-0000-0000-000000000000', [])).status, 404);
  });

  it('accepts an empty patch as a no-op', async () => {
    const image = await api.createImage({ name: 'same' });
    const res = await api.patch(`/v2/images/${image.id}`, []);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, image);
  });
});
