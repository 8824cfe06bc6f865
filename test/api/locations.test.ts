/**
 * Image locations with the read-only http store and a real HTTP origin:
 * JSON-patch add/replace/remove on /locations with Glance's rules and codes,
 * validation_data, the location quota, URLs refused (this host's files,
 * internal addresses, missing or empty data), the v2.17 POST/GET location
 * API under each role, and data served by streaming the origin.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ADMIN, ALPHA_MEMBER, ALPHA_READER, BETA_MEMBER, Client, type Identity } from '../helpers/client.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/upload.js';

const SERVICE: Identity = { project: 'alpha', user: 'nova', roles: ['reader', 'service'] };
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex');

describe('image locations', () => {
  const files: Record<string, Buffer> = { '/a.img': randomBytes(70_000), '/empty': Buffer.alloc(0) };
  files['/b.img'] = files['/a.img'];
  let origin: http.Server;
  let base: string;
  let server: TestServer;
  let api: Client;

  before(async () => {
    origin = http.createServer((req, res) => {
      const body = files[req.url ?? ''];
      if (!body) return void res.writeHead(404).end();
      const range = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''));
      const part = range ? body.subarray(Number(range[1]), Number(range[2]) + 1) : body;
      res.writeHead(range ? 206 : 200, { 'content-length': part.length });
      res.end(req.method === 'HEAD' ? undefined : part);
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    const port = (origin.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
    server = await startTestServer({
      auth: 'headers',
      ini: [
        '[DEFAULT]',
        'show_multiple_locations = true',
        'show_image_direct_url = true',
        'image_location_quota = 3',
        '[glance_store]',
        'stores = file, http',
        '[import_filtering_opts]',
        'allowed_hosts = 127.0.0.1',
        `allowed_ports = ${port}`,
      ].join('\n'),
    });
    api = new Client(server.url, ALPHA_MEMBER);
  });
  after(async () => {
    await server?.close();
    origin?.close();
  });

  const queued = () => api.createImage({ disk_format: 'raw', container_format: 'bare' });
  const patch = (id: string, ops: unknown[], as?: Identity) => api.patch(`/v2/images/${id}`, ops, as ? { as } : {});
  const add = (url: string, path = '/locations/-', extra: Record<string, unknown> = {}) => ({ op: 'add', path, value: { url, metadata: {}, ...extra } });

  it('activates a queued image with an added location, sized from the origin, and streams its data from there', async () => {
    const image = await queued();
    const res = await patch(image.id, [add(`${base}/a.img`)]);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.status, 'active');
    assert.equal(res.json.size, files['/a.img'].length);
    assert.equal(res.json.direct_url, `${base}/a.img`);
    assert.deepEqual(res.json.locations, [{ url: `${base}/a.img`, metadata: {} }]);
    const whole = await fetch(`${server.url}/v2/images/${image.id}/file`, { headers: { 'x-identity-status': 'Confirmed', 'x-project-id': 'alpha', 'x-roles': 'member' } });
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(files['/a.img']));
    const part = await fetch(`${server.url}/v2/images/${image.id}/file`, { headers: { 'x-identity-status': 'Confirmed', 'x-project-id': 'alpha', 'x-roles': 'member', range: 'bytes=100-199' } });
    assert.equal(part.status, 206);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(files['/a.img'].subarray(100, 200)));
  });

  it('adds, orders, replaces and removes locations with Glance\'s rules', async () => {
    const image = await queued();
    await patch(image.id, [add(`${base}/a.img`)]);
    let res = await patch(image.id, [add(`${base}/b.img`, '/locations/0', { metadata: { tier: 'b' } })]);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.locations.map((l: { url: string }) => l.url), [`${base}/b.img`, `${base}/a.img`]);
    assert.equal((await patch(image.id, [add(`${base}/a.img`)])).status, 400, 'a duplicate');
    assert.equal((await patch(image.id, [add(`${base}/a.img`, '/locations/x')])).status, 400, 'a bad position');
    assert.equal((await patch(image.id, [{ op: 'add', path: '/locations', value: { url: `${base}/a.img`, metadata: {} } }])).status, 400, 'a pointer of the wrong depth');

    res = await patch(image.id, [{ op: 'replace', path: '/locations', value: [{ url: `${base}/b.img`, metadata: { tier: 'gold' } }, { url: `${base}/a.img`, metadata: {} }] }]);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.locations[0].metadata, { tier: 'gold' }, 'metadata replaced in place');
    res = await patch(image.id, [{ op: 'replace', path: '/locations', value: [{ url: `${base}/a.img`, metadata: {} }] }]);
    assert.equal(res.status, 400);
    assert.match(res.text, /Original locations is not empty/);
    assert.equal((await patch(image.id, [{ op: 'replace', path: '/locations', value: [] }])).status, 403);

    // delete_image_location is the admin's.
    res = await patch(image.id, [{ op: 'remove', path: '/locations/0' }], ADMIN);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.locations, [{ url: `${base}/a.img`, metadata: {} }]);
    res = await patch(image.id, [{ op: 'remove', path: '/locations/0' }], ADMIN);
    assert.equal(res.status, 403);
    assert.match(res.text, /Cannot remove last location in the image/);
    assert.equal((await fetch(`${base}/a.img`)).status, 200, 'the origin keeps its data: the http store never deletes');
  });

  it('enforces image_location_quota (413)', async () => {
    const image = await queued();
    files['/c.img'] = files['/a.img'];
    files['/d.img'] = files['/a.img'];
    for (const name of ['a', 'b', 'c']) assert.equal((await patch(image.id, [add(`${base}/${name}.img`)])).status, 200);
    const res = await patch(image.id, [add(`${base}/d.img`)]);
    assert.equal(res.status, 413);
    assert.match(res.text, /Attempted: 4, Maximum: 3/);
  });

  it('refuses locations no store can vouch for: this host\'s files, internal or filtered addresses, missing or empty data', async () => {
    const image = await queued();
    for (const url of ['file:///etc/passwd', 'filesystem:///etc/passwd', 'swift+config://ref1/glance/x', `${base}/missing`, `${base}/empty`, 'http://169.254.169.254/latest/meta-data', 'http://127.0.0.1:1/x', 'gopher://example.com/x']) {
      const res = await patch(image.id, [add(url)]);
      assert.equal(res.status, 400, `${url}: ${res.text}`);
    }
    assert.equal((await api.get(`/v2/images/${image.id}`)).json.status, 'queued');
  });

  it('applies validation_data to a queued image, refusing conflicting or malformed values (409)', async () => {
    const bytes = files['/a.img'];
    let image = await queued();
    const wrongAlgo = await patch(image.id, [add(`${base}/a.img`, '/locations/-', { validation_data: { checksum: md5(bytes), os_hash_algo: 'sha256', os_hash_value: createHash('sha256').update(bytes).digest('hex') } })]);
    assert.equal(wrongAlgo.status, 409);
    const badHash = await patch(image.id, [add(`${base}/a.img`, '/locations/-', { validation_data: { checksum: md5(bytes), os_hash_algo: 'sha512', os_hash_value: 'abc' } })]);
    assert.equal(badHash.status, 409);
    const res = await patch(image.id, [add(`${base}/a.img`, '/locations/-', { validation_data: { checksum: md5(bytes), os_hash_algo: 'sha512', os_hash_value: sha512(bytes) } })]);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.checksum, md5(bytes));
    assert.equal(res.json.os_hash_value, sha512(bytes));
    image = res.json;
    const clash = await patch(image.id, [add(`${base}/b.img`, '/locations/-', { validation_data: { checksum: md5(Buffer.from('other')) } })]);
    assert.equal(clash.status, 409);
    assert.match(clash.text, /checksum is already set with a different value/);
  });

  it('keeps location changes to those the policies allow', async () => {
    const image = await queued();
    assert.equal((await patch(image.id, [add(`${base}/a.img`)], ALPHA_READER)).status, 403);
    assert.equal((await patch(image.id, [add(`${base}/a.img`)], BETA_MEMBER)).status, 404);
    await patch(image.id, [add(`${base}/a.img`), add(`${base}/b.img`)]);
    const removed = await patch(image.id, [{ op: 'remove', path: '/locations/1' }]);
    assert.equal(removed.status, 403, 'delete_image_location is admin-only');
    assert.equal((await patch(image.id, [{ op: 'remove', path: '/locations/1' }], ADMIN)).status, 200);
  });

  describe('the v2.17 location API', () => {
    it('adds an http location for the owner (202), activates the image and records its hashes', async () => {
      const image = await queued();
      const res = await api.post(`/v2/images/${image.id}/locations`, { url: `${base}/a.img` });
      assert.equal(res.status, 202, res.text);
      let shown: Record<string, any> = {};
      await waitFor(async () => {
        shown = (await api.get(`/v2/images/${image.id}`)).json;
        return shown.os_hash_value !== null;
      }, 'the hashes of the added location');
      assert.equal(shown.status, 'active');
      assert.equal(shown.checksum, md5(files['/a.img']));
      assert.equal(shown.os_hash_value, sha512(files['/a.img']));
      assert.equal((await api.post(`/v2/images/${image.id}/locations`, { url: `${base}/b.img` })).status, 409, 'only queued images');
    });

    it('verifies validation_data against the data, putting the image back to queued on a mismatch', async () => {
      const good = await queued();
      assert.equal((await api.post(`/v2/images/${good.id}/locations`, { url: `${base}/a.img`, validation_data: { os_hash_algo: 'sha512', os_hash_value: sha512(files['/a.img']) } })).status, 202);
      await waitFor(async () => (await api.get(`/v2/images/${good.id}`)).json.status === 'active', 'the verified image');
      const bad = await queued();
      assert.equal((await api.post(`/v2/images/${bad.id}/locations`, { url: `${base}/a.img`, validation_data: { os_hash_algo: 'sha512', os_hash_value: sha512(Buffer.from('x')) } })).status, 202);
      let shown: Record<string, any> = {};
      await waitFor(async () => {
        shown = (await api.get(`/v2/images/${bad.id}`)).json;
        return shown.status === 'queued';
      }, 'the mismatched image back in queued');
      assert.deepEqual(shown.locations, []);
      assert.equal(shown.os_hash_value, null);
      const malformed = await api.post(`/v2/images/${bad.id}/locations`, { url: `${base}/a.img`, validation_data: { os_hash_algo: 'sha512', os_hash_value: 'zz' } });
      assert.equal(malformed.status, 400);
    });

    it('lets only services add other stores\' locations and list locations', async () => {
      const image = await queued();
      const rbd = `rbd://00000000-0000-0000-0000-000000000000/images/${image.id}/snap`;
      const refused = await api.post(`/v2/images/${image.id}/locations`, { url: rbd });
      assert.equal(refused.status, 403);
      assert.match(refused.text, /http store must be enabled to use location API by normal user/);
      assert.equal((await api.post(`/v2/images/${image.id}/locations`, { url: `${base}/a.img` }, { as: ALPHA_READER })).status, 403);
      assert.equal((await api.post(`/v2/images/${image.id}/locations`, { url: `${base}/a.img` }, { as: SERVICE })).status, 202);
      assert.equal((await api.get(`/v2/images/${image.id}/locations`)).status, 403, 'fetch_image_location: services only');
      const listed = await api.get(`/v2/images/${image.id}/locations`, { as: SERVICE });
      assert.equal(listed.status, 200);
      assert.deepEqual(listed.json, [{ url: `${base}/a.img`, metadata: {} }]);
      assert.equal((await api.get(`/v2/images/${image.id}/locations`, { as: ADMIN })).status, 200);
    });
  });

  it('deletes an image with an http location without touching the origin', async () => {
    const image = await queued();
    await patch(image.id, [add(`${base}/a.img`)]);
    assert.equal((await api.delete(`/v2/images/${image.id}`)).status, 204);
    assert.equal((await fetch(`${base}/a.img`)).status, 200);
  });
});
