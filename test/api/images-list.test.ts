/** GET /v2/images: visibility rules, every filter, sorting and marker paging. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ADMIN, ALPHA_MEMBER, ALPHA_READER, BETA_MEMBER } from '../helpers/client.js';
import { TEST_DIALECT } from '../helpers/databases.js';
import { suiteServer } from '../helpers/server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('image list', () => {
  const server = suiteServer({ auth: 'headers', ini: '[DEFAULT]\nlimit_param_default = 4\napi_limit_max = 7\n' });
  const api = server.client(ALPHA_MEMBER);
  const ids: Record<string, string> = {};
  const names = (res: { json: { images: { name: string }[] } }) => res.json.images.map((i) => i.name).sort();

  before(async () => {
    const make = async (name: string, body: Record<string, unknown>, as = ALPHA_MEMBER) => {
      const image = await api.createImage({ name, ...body }, { as });
      ids[name] = image.id;
      // distinct created_at values: MySQL keeps whole seconds only
      await sleep(TEST_DIALECT === 'mysql' ? 1100 : 3);
      return image;
    };
    await make('a-private', { visibility: 'private', disk_format: 'raw', container_format: 'bare', tags: ['red', 'blue'], os_distro: 'ubuntu' });
    await make('a-shared', { visibility: 'shared', disk_format: 'qcow2', container_format: 'bare', tags: ['red'], os_distro: 'debian' });
    await make('a-community', { visibility: 'community', disk_format: 'iso', container_format: 'bare', os_distro: 'ubuntu', 'os.version': '24.04' });
    await make('a-hidden', { os_hidden: true, disk_format: 'raw', container_format: 'bare' });
    await make('b-private', { visibility: 'private', disk_format: 'raw', container_format: 'bare' }, BETA_MEMBER);
    await make('b-community', { visibility: 'community', disk_format: 'raw', container_format: 'bare' }, BETA_MEMBER);
    await make('b-shared', { visibility: 'shared', disk_format: 'raw', container_format: 'bare' }, BETA_MEMBER);
    await make('public', { visibility: 'public', disk_format: 'raw', container_format: 'ovf', 'name:with:colons': 'x' }, ADMIN);
    await make('a,comma', { visibility: 'private', disk_format: 'vmdk', container_format: 'bare' });
    // sizes: upload data to two raw images
    assert.equal((await api.upload(ids['a-private'], Buffer.alloc(1000))).status, 204);
    assert.equal((await api.upload(ids['public'], Buffer.alloc(5000), { as: ADMIN })).status, 204);
  });

  it('lists own, public and accepted-shared images, hiding hidden and others\' community and private ones', async () => {
    const res = await api.get('/v2/images?limit=100');
    assert.equal(res.status, 200);
    assert.deepEqual(names(res), ['a,comma', 'a-community', 'a-private', 'a-shared', 'public']);
    const beta = await api.get('/v2/images?limit=100', { as: BETA_MEMBER });
    assert.deepEqual(names(beta), ['b-community', 'b-private', 'b-shared', 'public']);
    const reader = await api.get('/v2/images?limit=100', { as: ALPHA_READER });
    assert.deepEqual(names(reader), names(res));
  });

  it('lets admins list every project\'s images, community ones only when asked', async () => {
    const res = await api.get('/v2/images?limit=100', { as: ADMIN });
    assert.deepEqual(names(res), ['a,comma', 'a-private', 'a-shared', 'b-private', 'b-shared', 'public']);
    const page = await api.get('/v2/images?limit=100&visibility=all', { as: ADMIN });
    const rest = await api.get(page.json.next, { as: ADMIN });
    assert.deepEqual(names({ json: { images: [...page.json.images, ...rest.json.images] } }), [
      'a,comma', 'a-community', 'a-private', 'a-shared', 'b-community', 'b-private', 'b-shared', 'public',
    ]);
  });

  it('filters by visibility, including other projects\' community images', async () => {
    assert.deepEqual(names(await api.get('/v2/images?visibility=community')), ['a-community', 'b-community']);
    assert.deepEqual(names(await api.get('/v2/images?visibility=private')), ['a,comma', 'a-private']);
    assert.deepEqual(names(await api.get('/v2/images?visibility=public')), ['public']);
    assert.deepEqual(names(await api.get('/v2/images?visibility=shared')), ['a-shared']);
    assert.deepEqual(names(await api.get('/v2/images?visibility=all&limit=100')), ['a,comma', 'a-community', 'a-private', 'a-shared', 'b-community', 'public']);
    assert.equal((await api.get('/v2/images?visibility=secret')).status, 400);
  });

  it('shows hidden images only with os_hidden=true', async () => {
    assert.deepEqual(names(await api.get('/v2/images?os_hidden=true')), ['a-hidden']);
    assert.deepEqual(names(await api.get('/v2/images?os_hidden=TRUE')), ['a-hidden']);
    assert.equal((await api.get('/v2/images?os_hidden=maybe')).status, 400);
  });

  it('filters on columns, with eq: and in: operators', async () => {
    assert.deepEqual(names(await api.get('/v2/images?name=a-shared')), ['a-shared']);
    assert.deepEqual(names(await api.get('/v2/images?name=eq:a-shared')), ['a-shared']);
    assert.deepEqual(names(await api.get('/v2/images?name=in:a-shared,public')), ['a-shared', 'public']);
    assert.deepEqual(names(await api.get(`/v2/images?name=${encodeURIComponent('in:"a,comma",public')}`)), ['a,comma', 'public']);
    assert.equal((await api.get(`/v2/images?name=${encodeURIComponent('in:"a,comma')}`)).status, 400);
    assert.equal((await api.get('/v2/images?name=like:a')).status, 400);
    assert.deepEqual(names(await api.get('/v2/images?disk_format=qcow2')), ['a-shared']);
    assert.deepEqual(names(await api.get('/v2/images?container_format=ovf')), ['public']);
    assert.deepEqual(names(await api.get(`/v2/images?id=${ids['a-private']}`)), ['a-private']);
    assert.deepEqual(names(await api.get('/v2/images?status=active')), ['a-private', 'public']);
    assert.deepEqual(names(await api.get('/v2/images?status=in:active,queued&limit=100')), names(await api.get('/v2/images?limit=100')));
    assert.deepEqual(names(await api.get('/v2/images?owner=admin-project')), ['public']);
    assert.deepEqual(names(await api.get('/v2/images?protected=false&visibility=private')), ['a,comma', 'a-private']);
    assert.equal((await api.get('/v2/images?protected=False')).status, 400);
    assert.equal((await api.get('/v2/images?changes-since=2020-01-01')).status, 400);
  });

  it('filters on checksum, os_hash_value and sizes', async () => {
    const image = (await api.get(`/v2/images/${ids['a-private']}`)).json;
    assert.deepEqual(names(await api.get(`/v2/images?checksum=${image.checksum}`)), ['a-private']);
    assert.deepEqual(names(await api.get(`/v2/images?os_hash_value=${image.os_hash_value}`)), ['a-private']);
    assert.deepEqual(names(await api.get('/v2/images?size_min=1000')), ['a-private', 'public']);
    assert.deepEqual(names(await api.get('/v2/images?size_min=1001')), ['public']);
    assert.deepEqual(names(await api.get('/v2/images?size_max=1000')), ['a-private']);
    assert.deepEqual(names(await api.get('/v2/images?size_min=1000&size_max=4999')), ['a-private']);
    assert.deepEqual(names(await api.get('/v2/images?size=5000')), ['public']);
    assert.equal((await api.get('/v2/images?size_min=big')).status, 400);
    assert.deepEqual(names(await api.get('/v2/images?min_ram=0&name=public')), ['public']);
  });

  it('filters on created_at and updated_at with comparison operators', async () => {
    const everything = names(await api.get('/v2/images?limit=100'));
    const hourAhead = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const hourAgo = new Date(Date.now() - 3600_000).toISOString().replace(/\.\d+Z$/, '');
    assert.deepEqual(names(await api.get(`/v2/images?created_at=lt:${hourAhead}&limit=100`)), everything);
    assert.deepEqual(names(await api.get(`/v2/images?created_at=gte:${hourAhead}`)), []);
    assert.deepEqual(names(await api.get(`/v2/images?created_at=gte:${hourAgo}&limit=100`)), everything);
    assert.deepEqual(names(await api.get(`/v2/images?updated_at=lte:${hourAgo}`)), []);
    assert.deepEqual(names(await api.get('/v2/images?created_at=gt:2000-01-01T00:00:00Z&name=public')), ['public']);
    assert.deepEqual(names(await api.get('/v2/images?updated_at=lt:2000-01-01T00:00:00Z')), []);
    assert.deepEqual(names(await api.get('/v2/images?updated_at=neq:2000-01-01T00:00:00&name=public')), ['public']);
    assert.equal((await api.get('/v2/images?created_at=soon:2020-01-01T00:00:00Z')).status, 400);
    assert.equal((await api.get('/v2/images?created_at=gt:yesterday')).status, 400);
  });

  it('filters on tags (all must match) and arbitrary properties', async () => {
    assert.deepEqual(names(await api.get('/v2/images?tag=red')), ['a-private', 'a-shared']);
    assert.deepEqual(names(await api.get('/v2/images?tag=red&tag=blue')), ['a-private']);
    assert.deepEqual(names(await api.get('/v2/images?tag=green')), []);
    assert.deepEqual(names(await api.get('/v2/images?os_distro=ubuntu')), ['a-community', 'a-private']);
    assert.deepEqual(names(await api.get('/v2/images?os_distro=ubuntu&os.version=24.04')), ['a-community']);
    assert.deepEqual(names(await api.get(`/v2/images?${encodeURIComponent('name:with:colons')}=x`)), ['public']);
    assert.deepEqual(names(await api.get('/v2/images?os_distro=fedora')), []);
  });

  it('sorts by any allowed key in either direction, with sort_key/sort_dir or sort=', async () => {
    const byName = await api.get('/v2/images?sort_key=name&sort_dir=asc&limit=100');
    assert.deepEqual(byName.json.images.map((i: { name: string }) => i.name), ['a,comma', 'a-community', 'a-private', 'a-shared', 'public']);
    const desc = await api.get('/v2/images?sort=name:desc&limit=100');
    assert.deepEqual(desc.json.images.map((i: { name: string }) => i.name), ['public', 'a-shared', 'a-private', 'a-community', 'a,comma']);
    const multi = await api.get('/v2/images?sort=disk_format:asc,name:desc&limit=100');
    assert.deepEqual(multi.json.images.map((i: { name: string }) => i.name), ['a-community', 'a-shared', 'public', 'a-private', 'a,comma']);
    const twoDirs = await api.get('/v2/images?sort_key=disk_format&sort_key=name&sort_dir=asc&sort_dir=desc&limit=100');
    assert.deepEqual(twoDirs.json.images, multi.json.images);
    const bySize = await api.get('/v2/images?sort_key=size&sort_dir=desc&limit=2');
    assert.deepEqual(bySize.json.images.map((i: { name: string }) => i.name), ['public', 'a-private']);
    const byDefault = await api.get('/v2/images?limit=100');
    assert.deepEqual(byDefault.json.images.map((i: { name: string }) => i.name), ['a,comma', 'public', 'a-community', 'a-shared', 'a-private']);
    for (const key of ['status', 'container_format', 'id', 'created_at', 'updated_at']) {
      assert.equal((await api.get(`/v2/images?sort_key=${key}`)).status, 200, key);
    }
    assert.equal((await api.get('/v2/images?sort_key=owner')).status, 400);
    assert.equal((await api.get('/v2/images?sort_dir=up')).status, 400);
    assert.equal((await api.get('/v2/images?sort=name:up')).status, 400);
    assert.equal((await api.get('/v2/images?sort=name&sort_key=name')).status, 400);
    assert.equal((await api.get('/v2/images?sort_key=name&sort_key=size&sort_dir=asc&sort_dir=desc&sort_dir=asc')).status, 400);
  });

  it('pages with limit and marker, with first and next links', async () => {
    const page1 = await api.get('/v2/images?sort_key=name&sort_dir=asc&limit=2');
    assert.deepEqual(page1.json.images.map((i: { name: string }) => i.name), ['a,comma', 'a-community']);
    assert.equal(page1.json.first, '/v2/images?sort_key=name&sort_dir=asc&limit=2');
    assert.equal(page1.json.schema, '/v2/schemas/images');
    assert.equal(page1.json.next, `/v2/images?sort_key=name&sort_dir=asc&limit=2&marker=${ids['a-community']}`);
    const page2 = await api.get(page1.json.next);
    assert.deepEqual(page2.json.images.map((i: { name: string }) => i.name), ['a-private', 'a-shared']);
    assert.equal(page2.json.first, '/v2/images?sort_key=name&sort_dir=asc&limit=2');
    const page3 = await api.get(page2.json.next);
    assert.deepEqual(page3.json.images.map((i: { name: string }) => i.name), ['public']);
    assert.equal(page3.json.next, undefined);
    // default order pages too
    const d1 = await api.get('/v2/images?limit=3');
    const d2 = await api.get(d1.json.next);
    assert.deepEqual([...d1.json.images, ...d2.json.images].map((i: { name: string }) => i.name), ['a,comma', 'public', 'a-community', 'a-shared', 'a-private']);
  });

  it('applies limit_param_default and clamps at api_limit_max', async () => {
    const all = await api.get('/v2/images?visibility=all', { as: ADMIN });
    assert.equal(all.json.images.length, 4);
    assert.ok(all.json.next);
    const clamped = await api.get('/v2/images?visibility=all&limit=1000', { as: ADMIN });
    assert.equal(clamped.json.images.length, 7);
    assert.deepEqual((await api.get('/v2/images?limit=0')).json.images, []);
    assert.equal((await api.get('/v2/images?limit=-1')).status, 400);
    assert.equal((await api.get('/v2/images?limit=ten')).status, 400);
  });

  it('refuses a marker that does not exist or is not visible', async () => {
    assert.equal((await api.get('/v2/images?marker=00000000-0000-0000-0000-000000000000')).status, 400);
    assert.equal((await api.get(`/v2/images?marker=${ids['b-private']}`)).status, 400);
    assert.equal((await api.get(`/v2/images?marker=${ids['b-private']}`, { as: BETA_MEMBER })).status, 200);
  });

  it('validates member_status', async () => {
    assert.equal((await api.get('/v2/images?member_status=all')).status, 200);
    assert.equal((await api.get('/v2/images?member_status=maybe')).status, 400);
  });
});
