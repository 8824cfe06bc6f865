/**
 * /v2/schemas/*: the served documents equal Glance's, property for property
 * (compared with the JSON in shared/spec/schemas.md), and the operator's
 * schema-image.json is merged and enforced.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ALPHA_MEMBER, Client } from '../helpers/client.js';
import { type TestServer, composeTestServer } from '../helpers/server.js';
import { SHARED_DIR, sharedSkip } from '../helpers/tools.js';

const skip = sharedSkip('spec/schemas.md');

/** The first ```json block after a heading of schemas.md. */
function specBlock(heading: string): Record<string, any> {
  const text = readFileSync(path.join(SHARED_DIR, 'spec', 'schemas.md'), 'utf8');
  const start = text.indexOf(heading);
  assert.ok(start >= 0, heading);
  const block = /```json\n([\s\S]*?)\n```/.exec(text.slice(start));
  assert.ok(block, heading);
  return JSON.parse(block[1].replace(/"<[^"]*>"/g, 'null'));
}

/** Descriptions are ours to write; everything else must match. */
function withoutDescriptions(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDescriptions);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([k, v]) => !(k === 'description' && typeof v === 'string')).map(([k, v]) => [k, withoutDescriptions(v)]));
  }
  return value;
}

describe('schemas', { skip }, () => {
  let server: TestServer;
  let api: Client;
  const specImage = skip ? {} : specBlock('## 1. Image');

  before(async () => {
    // Debian's schema-image.json: the properties the spec marks is_base: false.
    const custom = Object.fromEntries(
      Object.entries(specImage.properties as Record<string, Record<string, unknown>>)
        .filter(([, def]) => def.is_base === false)
        .map(([name, { is_base: _b, ...def }]) => [name, { ...def, description: `operator's ${name}` }]),
    );
    server = await composeTestServer({ auth: 'headers', ini: '[DEFAULT]\n', files: { 'schema-image.json': JSON.stringify(custom) } });
    api = new Client(server.url, ALPHA_MEMBER);
  });
  after(() => server?.close());

  it('serves the image schema exactly as Glance does, with the operator\'s properties merged', async () => {
    const res = await api.get('/v2/schemas/image');
    assert.equal(res.status, 200);
    assert.deepEqual(withoutDescriptions(res.json), specImage);
    assert.equal(res.json.properties.architecture.description, "operator's architecture");
  });

  it('serves the collection, member and task schemas as Glance does', async () => {
    const images = (await api.get('/v2/schemas/images')).json;
    const specImages = specBlock('## 2. Images collection');
    assert.deepEqual(withoutDescriptions({ ...images, properties: { ...images.properties, images: { ...images.properties.images, items: null } } }), specImages);
    assert.deepEqual(withoutDescriptions(images.properties.images.items), specImage);
    assert.deepEqual(withoutDescriptions((await api.get('/v2/schemas/member')).json), specBlock('## 3. Member'));
    const members = (await api.get('/v2/schemas/members')).json;
    assert.deepEqual(withoutDescriptions({ ...members, properties: { ...members.properties, members: { type: 'array', items: null } } }), specBlock('## 4. Members collection'));
    assert.deepEqual(withoutDescriptions((await api.get('/v2/schemas/task')).json), specBlock('## 5. Task'));
    const tasks = (await api.get('/v2/schemas/tasks')).json;
    assert.deepEqual(Object.keys(tasks.properties.tasks.items.properties).sort(), Object.keys(specBlock('## 5. Task').properties).filter((k) => !['input', 'result', 'message'].includes(k)).sort());
    for (const name of ['image', 'images', 'member', 'members', 'task', 'tasks']) {
      assert.equal((await api.get(`/v2/schemas/${name}`)).json.name, name);
    }
  });

  it('enforces the operator\'s property types on create and patch', async () => {
    const bad = await api.post('/v2/images', { kernel_id: 'not-a-uuid' });
    assert.equal(bad.status, 400);
    assert.match(bad.json.message, /kernel_id/);
    const policy = await api.post('/v2/images', { cinder_encryption_key_deletion_policy: 'sometimes' });
    assert.equal(policy.status, 400);
    const good = await api.createImage({ kernel_id: '5f6a8c64-5fd7-4c8c-b4f1-7c2ad9c9e7a1', architecture: 'x86_64', os_distro: 'ubuntu' });
    assert.equal(good.architecture, 'x86_64');
    const patched = await api.patch(`/v2/images/${good.id}`, [{ op: 'replace', path: '/kernel_id', value: 'nope' }]);
    assert.equal(patched.status, 400);
    assert.equal((await api.patch(`/v2/images/${good.id}`, [{ op: 'add', path: '/ramdisk_id', value: null }])).status, 200);
  });
});

describe('custom schema files', () => {
  it('reads the {properties, required} form and enforces required properties', async () => {
    const server = await composeTestServer({
      auth: 'headers',
      ini: '',
      files: { 'schema-image.json': JSON.stringify({ properties: { hw_cpu_cores: { type: 'integer' }, os_type: { type: 'string', enum: ['linux', 'windows'] } }, required: ['os_type'] }) },
    });
    try {
      const api = new Client(server.url, ALPHA_MEMBER);
      const schema = (await api.get('/v2/schemas/image')).json;
      assert.deepEqual(schema.required, ['os_type']);
      assert.deepEqual(schema.properties.hw_cpu_cores, { type: 'integer', is_base: false });
      const missing = await api.post('/v2/images', { name: 'x' });
      assert.equal(missing.status, 400);
      assert.match(missing.json.message, /os_type/);
      assert.equal((await api.post('/v2/images', { os_type: 'beos' })).status, 400);
      assert.equal((await api.post('/v2/images', { os_type: 'linux', hw_cpu_cores: 'four' })).status, 400);
      const image = await api.createImage({ os_type: 'linux', hw_cpu_cores: 4 });
      assert.equal(image.hw_cpu_cores, '4');
      assert.equal((await api.patch(`/v2/images/${image.id}`, [{ op: 'remove', path: '/os_type' }])).status, 400);
    } finally {
      await server.close();
    }
  });

  it('refuses to start when a definition contradicts a base property', async () => {
    await assert.rejects(
      composeTestServer({ ini: '', files: { 'schema-image.json': JSON.stringify({ min_ram: { type: 'string' } }) } }),
      /redefines the base image property "min_ram"/,
    );
  });
});
