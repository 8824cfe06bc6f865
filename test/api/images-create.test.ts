/** POST /v2/images: defaults, every settable attribute, and every refusal. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ADMIN, ALPHA_MEMBER, ALPHA_READER } from '../helpers/client.js';
import { suiteServer } from '../helpers/server.js';

describe('image create', () => {
  const server = suiteServer({ auth: 'headers', ini: '[DEFAULT]\nimage_property_quota = 3\nimage_tag_quota = 2\n' });
  const api = server.client(ALPHA_MEMBER);

  it('creates a queued, shared image owned by the caller with Glance defaults', async () => {
    const res = await api.post('/v2/images', {});
    assert.equal(res.status, 201);
    const image = res.json;
    assert.match(image.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(res.headers.get('location'), `${server.url}/v2/images/${image.id}`);
    assert.equal(res.headers.get('openstack-image-import-methods'), 'glance-direct,web-download,copy-image');
    assert.deepEqual(
      { ...image, id: undefined, created_at: undefined, updated_at: undefined },
      {
        id: undefined, name: null, status: 'queued', visibility: 'shared', protected: false, os_hidden: false,
        checksum: null, os_hash_algo: null, os_hash_value: null, owner: 'alpha', size: null, virtual_size: null,
        container_format: null, disk_format: null, min_ram: 0, min_disk: 0, created_at: undefined, updated_at: undefined,
        tags: [], self: `/v2/images/${image.id}`, file: `/v2/images/${image.id}/file`, schema: '/v2/schemas/image',
      },
    );
    assert.match(image.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(image.updated_at, image.created_at);
    const shown = await api.get(`/v2/images/${image.id}`);
    assert.deepEqual(shown.json, image);
  });

  it('stores every settable attribute, tags and extra properties (dotted keys too)', async () => {
    const id = 'A5F1C0DE-1234-4bcd-8abc-0123456789ab';
    const image = await api.createImage({
      id, name: 'full', visibility: 'community', protected: true, os_hidden: true, container_format: 'bare',
      disk_format: 'qcow2', min_ram: 512, min_disk: 10, tags: ['x', 'y', 'x'], 'owner_specified.openstack.sha256': 'abc',
    });
    assert.equal(image.id, id.toLowerCase());
    const shown = (await api.get(`/v2/images/${image.id}`)).json;
    for (const [k, v] of Object.entries({ name: 'full', visibility: 'community', protected: true, os_hidden: true, container_format: 'bare', disk_format: 'qcow2', min_ram: 512, min_disk: 10 })) {
      assert.deepEqual(shown[k], v, k);
    }
    assert.deepEqual([...shown.tags].sort(), ['x', 'y']);
    assert.equal(shown['owner_specified.openstack.sha256'], 'abc');
    await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/protected', value: false }]);
  });

  it('refuses read-only and reserved attributes with 403', async () => {
    for (const key of ['status', 'checksum', 'size', 'virtual_size', 'created_at', 'updated_at', 'os_hash_algo', 'os_hash_value', 'direct_url', 'self', 'file', 'schema', 'stores']) {
      const res = await api.post('/v2/images', { [key]: 'x' });
      assert.equal(res.status, 403, key);
      assert.match(res.json.message, new RegExp(`Attribute '${key}' is read-only`));
    }
    for (const key of ['location', 'locations', 'deleted', 'deleted_at', 'os_glance_import_task', 'os_glance_anything']) {
      const res = await api.post('/v2/images', { [key]: 'x' });
      assert.equal(res.status, 403, key);
      assert.match(res.json.message, new RegExp(`Attribute '${key}' is reserved`));
    }
  });

  it('refuses schema violations with 400 naming the field', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ disk_format: 'floppy' }, /disk_format/],
      [{ container_format: 'tarball' }, /container_format/],
      [{ id: 'not-a-uuid' }, /'id'/],
      [{ name: 'n'.repeat(256) }, /'name'/],
      [{ tags: ['t'.repeat(256)] }, /tags/],
      [{ protected: 'yes' }, /'protected'/],
      [{ os_hidden: 1 }, /'os_hidden'/],
      [{ min_ram: 'big' }, /'min_ram'/],
      [{ min_disk: 1.5 }, /'min_disk'/],
      [{ visibility: 'everyone' }, /'visibility'/],
      [{ custom: 5 }, /'custom'/],
    ];
    for (const [body, field] of cases) {
      const res = await api.post('/v2/images', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.json.message, field);
    }
  });

  it('enforces the integer and length limits', async () => {
    assert.equal((await api.post('/v2/images', { min_ram: -1 })).status, 400);
    assert.equal((await api.post('/v2/images', { min_disk: 2 ** 31 })).status, 400);
    assert.equal((await api.post('/v2/images', { min_disk: 2 ** 31 - 1 })).status, 201);
    assert.equal((await api.post('/v2/images', { ['k'.repeat(256)]: 'v' })).status, 400);
    assert.equal((await api.post('/v2/images', { ['k'.repeat(255)]: 'v' })).status, 201);
    assert.equal((await api.post('/v2/images', { name: 'n'.repeat(255) })).status, 201);
    const emoji = await api.post('/v2/images', { name: 'smile \u{1F600}' });
    assert.equal(emoji.status, 400);
    assert.match(emoji.json.message, /4-byte/);
    assert.equal((await api.post('/v2/images', { tags: ['\u{1F600}'] })).status, 400);
    assert.equal((await api.post('/v2/images', { 'k\u{1F600}': 'v' })).status, 400);
  });

  it('enforces image_property_quota and image_tag_quota with 413', async () => {
    assert.equal((await api.post('/v2/images', { a: '1', b: '2', c: '3' })).status, 201);
    const props = await api.post('/v2/images', { a: '1', b: '2', c: '3', d: '4' });
    assert.equal(props.status, 413);
    assert.match(props.json.message, /Attempted: 4, Maximum: 3/);
    assert.equal((await api.post('/v2/images', { tags: ['a', 'b'] })).status, 201);
    const tags = await api.post('/v2/images', { tags: ['a', 'b', 'c'] });
    assert.equal(tags.status, 413);
    assert.match(tags.json.message, /Attempted: 3, Maximum: 2/);
  });

  it('applies the owner rules: only admins create for another project', async () => {
    const other = await api.post('/v2/images', { owner: 'beta' });
    assert.equal(other.status, 403);
    assert.match(other.json.message, /not permitted to create images owned by 'beta'/);
    assert.equal((await api.post('/v2/images', { owner: null })).status, 403);
    assert.equal((await api.post('/v2/images', { owner: 'alpha' })).status, 201);
    const byAdmin = await api.post('/v2/images', { owner: 'beta' }, { as: ADMIN });
    assert.equal(byAdmin.status, 201);
    assert.equal(byAdmin.json.owner, 'beta');
  });

  it('needs publicize_image (admin) for public and allows community for members', async () => {
    const pub = await api.post('/v2/images', { visibility: 'public' });
    assert.equal(pub.status, 403);
    assert.equal((await api.post('/v2/images', { visibility: 'public' }, { as: ADMIN })).status, 201);
    assert.equal((await api.post('/v2/images', { visibility: 'community' })).status, 201);
    assert.equal((await api.post('/v2/images', { visibility: 'private' })).status, 201);
  });

  it('refuses creation by a reader', async () => {
    assert.equal((await api.post('/v2/images', { name: 'r' }, { as: ALPHA_READER })).status, 403);
  });

  it('refuses a duplicate id with 409 and leaves the first image intact', async () => {
    const id = '11111111-2222-4333-8444-555555555555';
    await api.createImage({ id, name: 'first' });
    const dup = await api.post('/v2/images', { id, name: 'second' });
    assert.equal(dup.status, 409);
    assert.equal((await api.get(`/v2/images/${id}`)).json.name, 'first');
  });

  it('refuses a body that is not an object', async () => {
    assert.equal((await api.post('/v2/images', [1, 2])).status, 400);
  });
});
