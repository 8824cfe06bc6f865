/**
 * Families and deprecation (beyond Glance), on every database: a family
 * resolves per caller to its newest active, non-deprecated image; deprecating
 * hides an image from default lists (os_hidden) while it still works by id,
 * records its replacement and schedule as ordinary properties, and
 * undeprecating reverses it. Bad requests get Glance-shaped 400s, and only
 * those who may modify an image may deprecate it.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ADMIN, ALPHA_MEMBER, ALPHA_READER, BETA_MEMBER } from '../helpers/client.js';
import { suiteServer } from '../helpers/server.js';

describe('image families and deprecation', () => {
  const server = suiteServer({ auth: 'headers' });
  const api = server.client(ALPHA_MEMBER);
  const ids: Record<string, string> = {};
  const family = (name: string, as = ALPHA_MEMBER) => api.get(`/v2/glimpse/families/${name}`, { as });
  const listed = async (query = '') => (await api.get(`/v2/images?glimpse_family=ubuntu-2404${query}`)).json.images.map((i: { name: string }) => i.name).sort();

  before(async () => {
    // Created one after another: v1 oldest, v3 newest (and still queued).
    for (const name of ['v1', 'v2', 'v3']) {
      const image = await api.createImage({ name, disk_format: 'raw', container_format: 'bare', glimpse_family: 'ubuntu-2404' });
      ids[name] = image.id;
      if (name !== 'v3') assert.equal((await api.upload(image.id, `bytes of ${name}`)).status, 204);
      await new Promise((r) => setTimeout(r, 1100)); // created_at has one-second resolution, as Glance's
    }
    assert.equal((await api.patch(`/v2/images/${ids.v1}`, [{ op: 'replace', path: '/visibility', value: 'public' }], { as: ADMIN })).status, 200);
  });

  it('resolves a family to its newest active image the caller can see, with every version', async () => {
    const res = await family('ubuntu-2404');
    assert.equal(res.status, 200);
    assert.equal(res.json.family, 'ubuntu-2404');
    assert.equal(res.json.latest.id, ids.v2, 'v3 is newer but queued');
    assert.deepEqual(res.json.versions.map((v: { name: string }) => v.name), ['v3', 'v2', 'v1']);
    const beta = await family('ubuntu-2404', BETA_MEMBER);
    assert.equal(beta.json.latest.id, ids.v1, 'beta sees only the public v1');
    assert.deepEqual(beta.json.versions.map((v: { name: string }) => v.name), ['v1']);
    assert.equal((await family('no-such-family')).status, 404);
    assert.equal((await family('x'.repeat(256))).status, 400);
  });

  it('deprecates with a replacement and a schedule: hidden from lists, usable by id, skipped by the resolver', async () => {
    const res = await api.post(`/v2/images/${ids.v1}/actions/deprecate`, { replacement: ids.v2, obsolete_at: '2027-01-31T00:00:00Z', delete_at: '2027-06-30T00:00:00Z' });
    assert.equal(res.status, 200);
    assert.equal(res.json.os_hidden, true);
    assert.equal(res.json.glimpse_replacement, ids.v2);
    assert.equal(res.json.glimpse_obsolete_at, '2027-01-31T00:00:00.000Z');
    assert.equal(res.json.glimpse_delete_at, '2027-06-30T00:00:00.000Z');
    assert.match(res.json.glimpse_deprecated_at, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(await listed(), ['v2', 'v3'], 'gone from the default list');
    assert.deepEqual(await listed('&os_hidden=true'), ['v1']);
    assert.equal((await api.get(`/v2/images/${ids.v1}`)).status, 200);
    assert.equal((await api.get(`/v2/images/${ids.v1}/file`)).text, 'bytes of v1', 'still usable by id');
    const resolved = (await family('ubuntu-2404')).json;
    assert.equal(resolved.latest.id, ids.v2);
    assert.deepEqual(resolved.versions.map((v: { name: string }) => v.name), ['v3', 'v2', 'v1'], 'deprecated versions are still listed');
    const beta = await family('ubuntu-2404', BETA_MEMBER);
    assert.equal(beta.status, 200);
    assert.equal(beta.json.latest, null, 'beta can see only a deprecated version');
  });

  it('resolves to nothing when every usable version is deprecated, and undeprecating brings one back', async () => {
    assert.equal((await api.post(`/v2/images/${ids.v2}/actions/deprecate`, {})).status, 200);
    assert.equal((await family('ubuntu-2404')).json.latest, null);
    const back = await api.post(`/v2/images/${ids.v2}/actions/undeprecate`);
    assert.equal(back.status, 200);
    assert.equal(back.json.os_hidden, false);
    for (const key of ['glimpse_deprecated_at', 'glimpse_replacement', 'glimpse_obsolete_at', 'glimpse_delete_at']) assert.equal(back.json[key], undefined, key);
    assert.equal((await family('ubuntu-2404')).json.latest.id, ids.v2);
    assert.equal((await api.post(`/v2/images/${ids.v2}/actions/undeprecate`)).status, 400, 'not deprecated');
  });

  it('refuses bad deprecations with 400 and changes nothing', async () => {
    const cases: [unknown, RegExp][] = [
      [{ replacement: ids.v3.replace(/.$/, ids.v3.endsWith('0') ? '1' : '0') }, /could not be found/],
      [{ replacement: ids.v3 }, /cannot replace itself/],
      [{ obsolete_at: 'tomorrow' }, /ISO 8601/],
      [{ obsolete_at: '2027-06-01T00:00:00Z', delete_at: '2027-01-01T00:00:00Z' }, /must not come before/],
      [{ retire: true }, /Unknown deprecation field/],
      [['x'], /JSON object/],
    ];
    for (const [body, message] of cases) {
      const res = await api.post(`/v2/images/${ids.v3}/actions/deprecate`, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.json.message, message);
    }
    const v3 = (await api.get(`/v2/images/${ids.v3}`)).json;
    assert.equal(v3.os_hidden, false);
    assert.equal(v3.glimpse_deprecated_at, undefined);
  });

  it('lets only those who may modify the image deprecate it (policy deprecate_image)', async () => {
    assert.equal((await api.post(`/v2/images/${ids.v1}/actions/undeprecate`, undefined, { as: BETA_MEMBER })).status, 403, 'beta sees the public v1 but does not own it');
    assert.equal((await api.post(`/v2/images/${ids.v2}/actions/deprecate`, {}, { as: ALPHA_READER })).status, 403);
    assert.equal((await api.post(`/v2/images/${ids.v2}/actions/deprecate`, {}, { as: BETA_MEMBER })).status, 404, 'a private image of another project is not found');
    assert.equal((await api.post(`/v2/images/${ids.v1}/actions/undeprecate`, undefined, { as: ADMIN })).status, 200);
  });
});
