/** Versions, negotiation, request ids, routing errors and Glance's error bodies. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ALPHA_MEMBER } from '../helpers/client.js';
import { suiteServer } from '../helpers/server.js';

describe('protocol', () => {
  const server = suiteServer({ auth: 'headers' });
  const api = server.client(ALPHA_MEMBER);

  it('answers GET / with 300 and the version list, v2.17 current', async () => {
    const res = await api.get('/', { as: {} });
    assert.equal(res.status, 300);
    const ids = res.json.versions.map((v: { id: string }) => v.id);
    assert.deepEqual(ids, ['v2.15', 'v2.9', 'v2.17', 'v2.7', 'v2.6', 'v2.5', 'v2.4', 'v2.3', 'v2.2', 'v2.1', 'v2.0']);
    const current = res.json.versions.filter((v: { status: string }) => v.status === 'CURRENT');
    assert.deepEqual(current.map((v: { id: string }) => v.id), ['v2.17']);
    assert.equal(res.json.versions[0].links[0].href, `${server.url}/v2/`);
  });

  it('answers /versions with 200 and unknown version prefixes with 300, without a token', async () => {
    assert.equal((await api.get('/versions', { as: {} })).status, 200);
    for (const path of ['/v1/images', '/v3', '/v2.99/images', '/whatever']) {
      const res = await api.get(path, { as: {} });
      assert.equal(res.status, 300, path);
      assert.ok(Array.isArray(res.json.versions));
    }
  });

  it('serves /v2.N/ prefixes as /v2/', async () => {
    const image = await api.createImage({ name: 'negotiated' });
    for (const prefix of ['v2.0', 'v2.5', 'v2.9', 'v2.15', 'v2.17']) {
      const res = await api.get(`/${prefix}/images/${image.id}`);
      assert.equal(res.status, 200, prefix);
      assert.equal(res.json.name, 'negotiated');
    }
  });

  it('has a healthcheck outside the API', async () => {
    const res = await api.get('/healthcheck', { as: {} });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'OK');
  });

  it('gives every response a request id, honouring a supplied one', async () => {
    const res = await api.get('/v2/images');
    assert.match(res.headers.get('x-openstack-request-id') ?? '', /^req-[0-9a-f-]{36}$/);
    const mine = await api.get('/v2/images', { headers: { 'x-openstack-request-id': 'req-abc123' } });
    assert.equal(mine.headers.get('x-openstack-request-id'), 'req-abc123');
    const bare = await api.get('/v2/images', { headers: { 'x-openstack-request-id': 'abc123' } });
    assert.equal(bare.headers.get('x-openstack-request-id'), 'req-abc123');
    const long = await api.get('/v2/images', { headers: { 'x-openstack-request-id': `req-${'x'.repeat(70)}` } });
    assert.equal(long.status, 431);
  });

  it('requires a confirmed identity in headers mode', async () => {
    const res = await api.get('/v2/images', { as: {} });
    assert.equal(res.status, 401);
    const unconfirmed = await api.get('/v2/images', { as: {}, headers: { 'x-identity-status': 'Invalid', 'x-project-id': 'alpha', 'x-roles': 'admin' } });
    assert.equal(unconfirmed.status, 401);
  });

  it('answers unknown API paths with 404 and wrong methods with 405 and Allow', async () => {
    assert.equal((await api.get('/v2/nothing-here')).status, 404);
    const res = await api.request('PUT', '/v2/images');
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, POST');
    assert.equal(res.json.code, '405 Method Not Allowed');
    assert.match(res.json.message, /The method PUT is not allowed for this resource/);
    const head = await api.request('HEAD', '/v2/images');
    assert.equal(head.status, 405);
    const image = await api.createImage({});
    const one = await api.request('POST', `/v2/images/${image.id}`);
    assert.equal(one.status, 405);
    assert.equal(one.headers.get('allow'), 'GET, PATCH, DELETE');
    const schema = await api.request('DELETE', '/v2/schemas/image');
    assert.equal(schema.headers.get('allow'), 'GET');
  });

  it('renders errors as WebOb does for Glance: JSON, plain text or HTML by Accept', async () => {
    const id = '00000000-0000-0000-0000-000000000000';
    const json = await api.get(`/v2/images/${id}`);
    assert.equal(json.status, 404);
    assert.deepEqual(json.json, {
      message: `No image found with ID ${id}<br /><br />\n\n\n`,
      code: '404 Not Found',
      title: 'Not Found',
    });
    const text = await api.get(`/v2/images/${id}`, { headers: { accept: 'text/plain' } });
    assert.equal(text.text, `404 Not Found\n\nNo image found with ID ${id}\n\n   `);
    const html = await api.get(`/v2/images/${id}`, { headers: { accept: '*/*' } });
    assert.match(html.headers.get('content-type') ?? '', /text\/html/);
    assert.match(html.text, /<h1>404 Not Found<\/h1>/);
  });

  it('refuses a body on calls that take none', async () => {
    const image = await api.createImage({});
    const del = await api.request('DELETE', `/v2/images/${image.id}`, { raw: '{"a":1}', headers: { 'content-type': 'application/json' } });
    assert.equal(del.status, 400);
    assert.match(del.json.message, /A body is not expected with this request/);
    assert.equal((await api.get(`/v2/images/${image.id}`)).status, 200);
  });

  it('refuses malformed and non-object JSON bodies with 400', async () => {
    const before = (await api.get('/v2/images')).json.images.length;
    const bad = await api.request('POST', '/v2/images', { raw: '{"name": ', headers: { 'content-type': 'application/json' } });
    assert.equal(bad.status, 400);
    assert.match(bad.json.message, /Malformed JSON in request body/);
    const scalar = await api.request('POST', '/v2/images', { raw: '"x"', headers: { 'content-type': 'application/json' } });
    assert.equal(scalar.status, 400);
    const empty = await api.request('POST', '/v2/images', { raw: '', headers: { 'content-type': 'application/json' } });
    assert.equal(empty.status, 400);
    assert.match(empty.json.message, /Body expected in request/);
    const list = await api.get('/v2/images');
    assert.equal(list.json.images.length, before, 'nothing was created by the failed calls');
  });
});
