/**
 * Swift with Keystone auth (a proxy of the Swift all-in-one behind
 * keystonemiddleware + keystoneauth, the real test Keystone, the catalog's
 * object-store endpoint pointing at it):
 * - multi-tenant: each image in its owner's account, container
 *   `glance_<id>`, written and read with the caller's token; the container
 *   read ACL follows visibility and members, so a member project reads the
 *   data with its own token; large images as SLOs in the image's container;
 *   delete removes the container;
 * - single tenant with Keystone v3 credentials (`project:user`).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { KEYSTONE_INI, KEYSTONE_URL, issueToken, keystoneSkip, projectId } from '../helpers/keystone.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { swiftSkip } from '../helpers/swift.js';
import { type KeystoneSwift, startKeystoneSwift } from '../helpers/swift-keystone.js';

const skip = swiftSkip() || keystoneSkip();

describe('Swift store, multi-tenant, with Keystone', { skip }, () => {
  let swift: KeystoneSwift;
  let server: TestServer;
  let alpha: string;
  let beta: string;
  let alphaToken: string;
  let betaToken: string;

  const as = (token: string) => ({ 'x-auth-token': token, accept: 'application/json' });
  const api = async (token: string, method: string, p: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${server.url}${p}`, {
      method,
      headers: { ...as(token), ...(body === undefined ? {} : { 'content-type': headers['content-type'] ?? 'application/json' }), ...headers },
      body: body === undefined ? undefined : Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : null, text };
  };
  const upload = (token: string, id: string, data: Buffer) =>
    api(token, 'PUT', `/v2/images/${id}/file`, data, { 'content-type': 'application/octet-stream' });
  const download = async (token: string, id: string) => {
    const res = await fetch(`${server.url}/v2/images/${id}/file`, { headers: as(token) });
    return { status: res.status, data: Buffer.from(await res.arrayBuffer()) };
  };
  const containerAcl = async (container: string) => {
    const res = await fetch(`${swift.url}/v1/AUTH_${alpha}/${container}`, { method: 'HEAD', headers: { 'x-auth-token': alphaToken } });
    return { status: res.status, read: res.headers.get('x-container-read') ?? '' };
  };
  const direct = (token: string, pathInAccount: string) => fetch(`${swift.url}/v1/AUTH_${alpha}/${pathInAccount}`, { headers: { 'x-auth-token': token } });

  before(async () => {
    swift = await startKeystoneSwift();
    server = await startTestServer({
      auth: 'keystone',
      ini: KEYSTONE_INI(
        [
          '[DEFAULT]',
          'show_multiple_locations = true',
          '[glance_store]',
          'default_store = swift',
          'swift_store_multi_tenant = true',
          'swift_store_create_container_on_put = true',
          'swift_store_large_object_size = 2',
          'swift_store_large_object_chunk_size = 1',
          '',
        ].join('\n'),
      ),
    });
    alpha = projectId('alpha');
    beta = projectId('beta');
    alphaToken = (await issueToken('alpha-member', 'pass', 'alpha')).token;
    betaToken = (await issueToken('beta-member', 'pass', 'beta')).token;
  });
  after(async () => {
    await server?.close();
    await swift?.stop();
  });

  it("writes an image into its owner's account, in a container of its own, readable by the owner only", async () => {
    const data = randomBytes(300_000);
    const image = (await api(alphaToken, 'POST', '/v2/images', { name: 'mt-private', disk_format: 'raw', container_format: 'bare' })).json;
    assert.equal((await upload(alphaToken, image.id, data)).status, 204);
    const shown = (await api(alphaToken, 'GET', `/v2/images/${image.id}`)).json;
    assert.equal(shown.status, 'active');
    assert.equal(shown.checksum, createHash('md5').update(data).digest('hex'));
    const port = new URL(swift.url).port;
    assert.deepEqual(
      shown.locations.map((l: { url: string }) => l.url),
      [`swift+http://127.0.0.1:${port}/v1/AUTH_${alpha}/glance_${image.id}/${image.id}`],
    );
    const stored = await direct(alphaToken, `glance_${image.id}/${image.id}`);
    assert.equal(stored.status, 200);
    assert.ok(Buffer.from(await stored.arrayBuffer()).equals(data));
    assert.equal((await direct(betaToken, `glance_${image.id}/${image.id}`)).status, 403, 'another project cannot read it in Swift');
    assert.deepEqual(await containerAcl(`glance_${image.id}`), { status: 204, read: '' });

    const got = await download(alphaToken, image.id);
    assert.equal(got.status, 200);
    assert.ok(got.data.equals(data));
    const range = await fetch(`${server.url}/v2/images/${image.id}/file`, { headers: { ...as(alphaToken), range: 'bytes=100-199' } });
    assert.equal(range.status, 206);
    assert.ok(Buffer.from(await range.arrayBuffer()).equals(data.subarray(100, 200)));

    assert.equal((await api(alphaToken, 'DELETE', `/v2/images/${image.id}`)).status, 204);
    assert.equal((await containerAcl(`glance_${image.id}`)).status, 404, 'the container goes with the image');
  });

  it('lets member projects read the data with their own tokens, and community images everyone; the ACL follows every change', async () => {
    const data = randomBytes(200_000);
    const image = (await api(alphaToken, 'POST', '/v2/images', { name: 'mt-shared', disk_format: 'raw', container_format: 'bare', visibility: 'shared' })).json;
    assert.equal((await upload(alphaToken, image.id, data)).status, 204);
    const container = `glance_${image.id}`;
    assert.equal((await containerAcl(container)).read, '');

    const added = await api(alphaToken, 'POST', `/v2/images/${image.id}/members`, { member: beta });
    assert.equal(added.status, 200, added.text);
    assert.equal((await containerAcl(container)).read, `${beta}:*`);
    const accepted = await api(betaToken, 'PUT', `/v2/images/${image.id}/members/${beta}`, { status: 'accepted' });
    assert.equal(accepted.status, 200, accepted.text);
    const asMember = await download(betaToken, image.id);
    assert.equal(asMember.status, 200, asMember.data.toString());
    assert.ok(asMember.data.equals(data), 'beta reads it from alpha\'s account with its own token');

    assert.equal((await api(alphaToken, 'DELETE', `/v2/images/${image.id}/members/${beta}`)).status, 204);
    assert.equal((await containerAcl(container)).read, '');
    assert.equal((await direct(betaToken, `${container}/${image.id}`)).status, 403);

    const patch = (value: string) =>
      api(alphaToken, 'PATCH', `/v2/images/${image.id}`, [{ op: 'replace', path: '/visibility', value }], { 'content-type': 'application/openstack-images-v2.1-json-patch' });
    // Community (public needs an admin): readable by every project, as public is.
    assert.equal((await patch('community')).status, 200);
    assert.equal((await containerAcl(container)).read, '*:*');
    const asPublic = await download(betaToken, image.id);
    assert.equal(asPublic.status, 200);
    assert.ok(asPublic.data.equals(data));
    assert.equal((await patch('private')).status, 200);
    assert.equal((await containerAcl(container)).read, '');
    assert.equal((await direct(betaToken, `${container}/${image.id}`)).status, 403);
    assert.equal((await api(alphaToken, 'DELETE', `/v2/images/${image.id}`)).status, 204);
  });

  it("writes a large image as a Static Large Object in the image's own container, and deletes it all", async () => {
    const data = randomBytes(2_500_000);
    const image = (await api(alphaToken, 'POST', '/v2/images', { name: 'mt-large', disk_format: 'raw', container_format: 'bare' })).json;
    const res = await fetch(`${server.url}/v2/images/${image.id}/file`, {
      method: 'PUT',
      headers: { ...as(alphaToken), 'content-type': 'application/octet-stream' },
      body: Readable.toWeb(Readable.from([data.subarray(0, 1_000_000), data.subarray(1_000_000)])) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 204, await res.text());
    const container = `glance_${image.id}`;
    const listing = (await (await direct(alphaToken, `${container}?format=json`)).json()) as { name: string }[];
    assert.deepEqual(listing.map((o) => o.name), [image.id, `${image.id}-00001`, `${image.id}-00002`, `${image.id}-00003`]);
    const got = await download(alphaToken, image.id);
    assert.ok(got.data.equals(data));
    assert.equal((await api(alphaToken, 'DELETE', `/v2/images/${image.id}`)).status, 204);
    assert.equal((await containerAcl(container)).status, 404);
  });

  it('imports with glance-direct into the caller\'s account', async () => {
    const data = randomBytes(150_000);
    const image = (await api(alphaToken, 'POST', '/v2/images', { name: 'mt-import', disk_format: 'raw', container_format: 'bare' })).json;
    assert.equal((await api(alphaToken, 'PUT', `/v2/images/${image.id}/stage`, data, { 'content-type': 'application/octet-stream' })).status, 204);
    assert.equal((await api(alphaToken, 'POST', `/v2/images/${image.id}/import`, { method: { name: 'glance-direct' } })).status, 202);
    let shown = (await api(alphaToken, 'GET', `/v2/images/${image.id}`)).json;
    for (let i = 0; i < 100 && shown.status !== 'active'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      shown = (await api(alphaToken, 'GET', `/v2/images/${image.id}`)).json;
    }
    assert.equal(shown.status, 'active', JSON.stringify(shown));
    assert.match(shown.locations[0].url, new RegExp(`/v1/AUTH_${alpha}/glance_${image.id}/${image.id}$`));
    assert.ok((await download(alphaToken, image.id)).data.equals(data));
    assert.equal((await api(alphaToken, 'DELETE', `/v2/images/${image.id}`)).status, 204);
  });

  it('refuses to start without Keystone auth: there would be no caller token to act with', async () => {
    await assert.rejects(
      startTestServer({ ini: '[glance_store]\ndefault_store = swift\nswift_store_multi_tenant = true\n' }),
      /swift_store_multi_tenant needs --auth keystone/,
    );
  });
});

describe('Swift store, single tenant, with Keystone v3 credentials', { skip }, () => {
  let swift: KeystoneSwift;
  let server: TestServer;
  const container = `glimpse-v3-${randomUUID().slice(0, 8)}`;

  before(async () => {
    swift = await startKeystoneSwift();
    server = await startTestServer({
      ini: [
        '[DEFAULT]',
        'show_multiple_locations = true',
        '[glance_store]',
        'default_store = swift',
        `swift_store_auth_address = ${KEYSTONE_URL}/v3`,
        'swift_store_user = service:glimpse',
        'swift_store_key = glimpse-pass',
        'swift_store_auth_version = 3',
        `swift_store_container = ${container}`,
        'swift_store_create_container_on_put = true',
        '',
      ].join('\n'),
    });
  });
  after(async () => {
    await server?.close();
    await swift?.stop();
  });

  it("keeps images in the service project's account, found through the catalog", async () => {
    const data = randomBytes(100_000);
    const created = await (
      await fetch(`${server.url}/v2/images`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ disk_format: 'raw', container_format: 'bare' }) })
    ).json();
    const put = await fetch(`${server.url}/v2/images/${created.id}/file`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: data });
    assert.equal(put.status, 204, await put.text());
    const shown = await (await fetch(`${server.url}/v2/images/${created.id}`)).json();
    assert.deepEqual(
      shown.locations.map((l: { url: string }) => l.url),
      [`swift+http://service%3Aglimpse:glimpse-pass@127.0.0.1:5001/v3/${container}/${created.id}`],
    );
    const service = await issueToken('glimpse', 'glimpse-pass', 'service');
    const stored = await fetch(`${swift.url}/v1/AUTH_${service.projectId}/${container}/${created.id}`, { headers: { 'x-auth-token': service.token } });
    assert.equal(stored.status, 200);
    assert.ok(Buffer.from(await stored.arrayBuffer()).equals(data));
    assert.ok(Buffer.from(await (await fetch(`${server.url}/v2/images/${created.id}/file`)).arrayBuffer()).equals(data));
    assert.equal((await fetch(`${server.url}/v2/images/${created.id}`, { method: 'DELETE' })).status, 204);
    assert.equal((await fetch(`${swift.url}/v1/AUTH_${service.projectId}/${container}/${created.id}`, { headers: { 'x-auth-token': service.token } })).status, 404);
  });
});
