/** Delete, tags, deactivate/reactivate, and the data path basics. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ADMIN, ALPHA_MEMBER, ALPHA_READER, BETA_MEMBER } from '../helpers/client.js';
import { suiteServer } from '../helpers/server.js';

describe('image lifecycle', () => {
  const server = suiteServer({ socket: true, auth: 'headers', ini: '[DEFAULT]\nimage_tag_quota = 2\n' });
  const api = server.client(ALPHA_MEMBER);
  const ready = { disk_format: 'raw', container_format: 'bare' };

  it('deletes an image and its data; later calls answer 404', async () => {
    const image = await api.createImage(ready);
    assert.equal((await api.upload(image.id, 'some bytes')).status, 204);
    const file = path.join(server.dataDir, 'images', image.id);
    assert.ok(existsSync(file));
    assert.equal((await api.delete(`/v2/images/${image.id}`, { as: BETA_MEMBER })).status, 404);
    assert.equal((await api.delete(`/v2/images/${image.id}`, { as: ALPHA_READER })).status, 403);
    assert.equal((await api.delete(`/v2/images/${image.id}`)).status, 204);
    assert.equal(existsSync(file), false);
    assert.equal((await api.get(`/v2/images/${image.id}`)).status, 404);
    assert.equal((await api.get(`/v2/images/${image.id}`, { as: ADMIN })).status, 404);
    assert.equal((await api.delete(`/v2/images/${image.id}`)).status, 404);
    const listed = (await api.get('/v2/images?limit=1000')).json.images.map((i: { id: string }) => i.id);
    assert.equal(listed.includes(image.id), false);
  });

  it('refuses to delete a protected image until it is unprotected', async () => {
    const image = await api.createImage({ protected: true });
    const res = await api.delete(`/v2/images/${image.id}`);
    assert.equal(res.status, 403);
    assert.match(res.json.message, /protected/);
    assert.equal((await api.delete(`/v2/images/${image.id}`, { as: ADMIN })).status, 403);
    await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/protected', value: false }]);
    assert.equal((await api.delete(`/v2/images/${image.id}`)).status, 204);
  });

  it('adds and removes tags idempotently within the quota', async () => {
    const image = await api.createImage({});
    assert.equal((await api.put(`/v2/images/${image.id}/tags/alpha`)).status, 204);
    assert.equal((await api.put(`/v2/images/${image.id}/tags/alpha`)).status, 204);
    assert.equal((await api.put(`/v2/images/${image.id}/tags/with%20space`)).status, 204);
    assert.deepEqual((await api.get(`/v2/images/${image.id}`)).json.tags.sort(), ['alpha', 'with space']);
    const over = await api.put(`/v2/images/${image.id}/tags/third`);
    assert.equal(over.status, 413);
    assert.equal((await api.put(`/v2/images/${image.id}/tags/${'t'.repeat(256)}`)).status, 400);
    assert.equal((await api.delete(`/v2/images/${image.id}/tags/alpha`)).status, 204);
    assert.equal((await api.delete(`/v2/images/${image.id}/tags/alpha`)).status, 404);
    assert.deepEqual((await api.get(`/v2/images/${image.id}`)).json.tags, ['with space']);
    assert.equal((await api.put(`/v2/images/${image.id}/tags/x`, { as: ALPHA_READER })).status, 403);
    assert.equal((await api.put(`/v2/images/${image.id}/tags/x`, { as: BETA_MEMBER })).status, 404);
    assert.equal((await api.put('/v2/images/00000000-0000-0000-0000-000000000000/tags/x')).status, 404);
    const tagged = (await api.get('/v2/images?tag=with%20space')).json.images.map((i: { id: string }) => i.id);
    assert.deepEqual(tagged, [image.id]);
  });

  it('deactivates and reactivates active images only', async () => {
    const image = await api.createImage(ready);
    const deactivate = `/v2/images/${image.id}/actions/deactivate`;
    const reactivate = `/v2/images/${image.id}/actions/reactivate`;
    const queued = await api.post(deactivate);
    assert.equal(queued.status, 403);
    assert.match(queued.json.message, /Not allowed to deactivate image in status 'queued'/);
    await api.upload(image.id, 'payload');
    assert.equal((await api.post(deactivate, undefined, { as: ALPHA_READER })).status, 403);
    assert.equal((await api.post(deactivate)).status, 204);
    assert.equal((await api.get(`/v2/images/${image.id}`)).json.status, 'deactivated');
    assert.equal((await api.post(deactivate)).status, 204);
    assert.equal((await api.get(`/v2/images/${image.id}/file`)).status, 403);
    const adminDownload = await api.get(`/v2/images/${image.id}/file`, { as: ADMIN });
    assert.equal(adminDownload.status, 200);
    assert.equal(adminDownload.text, 'payload');
    assert.equal((await api.post(reactivate)).status, 204);
    assert.equal((await api.post(reactivate)).status, 204);
    assert.equal((await api.get(`/v2/images/${image.id}`)).json.status, 'active');
    assert.equal((await api.get(`/v2/images/${image.id}/file`)).text, 'payload');
    assert.equal((await api.request('GET', deactivate)).status, 405);
  });

  it('uploads and downloads bytes with checksums, ranges and status changes', async () => {
    const image = await api.createImage(ready);
    assert.equal((await api.get(`/v2/images/${image.id}/file`)).status, 204);
    const data = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    const res = await api.upload(image.id, data);
    assert.equal(res.status, 204);
    const shown = (await api.get(`/v2/images/${image.id}`)).json;
    assert.equal(shown.status, 'active');
    assert.equal(shown.size, data.length);
    assert.equal(shown.checksum, createHash('md5').update(data).digest('hex'));
    assert.equal(shown.os_hash_algo, 'sha512');
    assert.equal(shown.os_hash_value, createHash('sha512').update(data).digest('hex'));
    const whole = await fetch(`${server.url}/v2/images/${image.id}/file`, { headers: hdr(ALPHA_MEMBER) });
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('content-type'), 'application/octet-stream');
    assert.equal(whole.headers.get('content-length'), String(data.length));
    assert.equal(whole.headers.get('content-md5'), shown.checksum);
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(data));
    const part = await fetch(`${server.url}/v2/images/${image.id}/file`, { headers: { ...hdr(ALPHA_MEMBER), range: 'bytes=10-19' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 10-19/${data.length}`);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(data.subarray(10, 20)));
    const tail = await fetch(`${server.url}/v2/images/${image.id}/file`, { headers: { ...hdr(ALPHA_MEMBER), range: 'bytes=-5' } });
    assert.ok(Buffer.from(await tail.arrayBuffer()).equals(data.subarray(-5)));
    const bad = await fetch(`${server.url}/v2/images/${image.id}/file`, { headers: { ...hdr(ALPHA_MEMBER), range: `bytes=${data.length}-` } });
    assert.equal(bad.status, 416);
    const multi = await fetch(`${server.url}/v2/images/${image.id}/file`, { headers: { ...hdr(ALPHA_MEMBER), range: 'bytes=0-1,5-6' } });
    assert.equal(multi.status, 400);
    assert.equal((await api.upload(image.id, 'again')).status, 409);
  });

  it('refuses uploads without formats, with the wrong media type, or a wrong declared size', async () => {
    const bare = await api.createImage({});
    assert.equal((await api.upload(bare.id, 'x')).status, 400);
    const image = await api.createImage(ready);
    const wrongType = await api.request('PUT', `/v2/images/${image.id}/file`, { raw: 'x', headers: { 'content-type': 'text/plain' } });
    assert.equal(wrongType.status, 415);
    const mismatch = await api.upload(image.id, 'abc', { headers: { 'x-openstack-image-size': '4' } });
    assert.equal(mismatch.status, 400);
    const after = (await api.get(`/v2/images/${image.id}`)).json;
    assert.equal(after.status, 'queued');
    assert.equal(after.size, null);
    assert.deepEqual(readdirSync(path.join(server.dataDir, 'images')).filter((n) => n.includes(image.id)), []);
    assert.equal((await api.upload(image.id, 'abc', { headers: { 'x-openstack-image-size': 'three' } })).status, 400);
    assert.equal((await api.upload(image.id, 'abc', { headers: { 'x-openstack-image-size': '3' } })).status, 204);
    assert.equal((await api.upload(image.id, 'x', { as: BETA_MEMBER })).status, 404);
    assert.equal((await api.upload(image.id, 'x')).status, 409);
  });
});

function hdr(identity: { project?: string; roles?: string[] }): Record<string, string> {
  return { 'x-identity-status': 'Confirmed', 'x-project-id': identity.project ?? '', 'x-roles': (identity.roles ?? []).join(',') };
}
