/** Image members: who may add, see, accept and remove them, and what sharing grants. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ADMIN, ALPHA_MEMBER, ALPHA_READER, BETA_MEMBER, type Identity } from '../helpers/client.js';
import { suiteServer } from '../helpers/server.js';

const GAMMA: Identity = { project: 'gamma', user: 'gamma-member', roles: ['member'] };
const BETA_READER: Identity = { project: 'beta', user: 'beta-reader', roles: ['reader'] };

describe('image members', () => {
  const server = suiteServer({ auth: 'headers', ini: '[DEFAULT]\nimage_member_quota = 2\n' });
  const api = server.client(ALPHA_MEMBER);

  const listed = async (as: Identity, query = '') =>
    (await api.get(`/v2/images?limit=1000${query}`, { as })).json.images.map((i: { id: string }) => i.id);

  it('shares an image: pending members can read it, it is listed for them only once accepted', async () => {
    const image = await api.createImage({ name: 'shared', disk_format: 'raw', container_format: 'bare' });
    await api.upload(image.id, 'shared bytes');
    assert.equal((await api.get(`/v2/images/${image.id}`, { as: BETA_MEMBER })).status, 404);

    const added = await api.post(`/v2/images/${image.id}/members`, { member: 'beta' });
    assert.equal(added.status, 200);
    assert.equal(added.json.member_id, 'beta');
    assert.equal(added.json.image_id, image.id);
    assert.equal(added.json.status, 'pending');
    assert.equal(added.json.schema, '/v2/schemas/member');
    assert.match(added.json.created_at, /Z$/);

    assert.equal((await api.get(`/v2/images/${image.id}`, { as: BETA_MEMBER })).status, 200);
    assert.equal((await api.get(`/v2/images/${image.id}/file`, { as: BETA_MEMBER })).text, 'shared bytes');
    assert.equal((await api.get(`/v2/images/${image.id}/file`, { as: BETA_READER })).status, 403, 'readers cannot download');
    assert.equal((await listed(BETA_MEMBER)).includes(image.id), false);
    assert.deepEqual(await listed(BETA_MEMBER, '&member_status=pending&visibility=shared'), [image.id]);

    const accepted = await api.put(`/v2/images/${image.id}/members/beta`, { as: BETA_MEMBER, body: { status: 'accepted' } });
    assert.equal(accepted.status, 200);
    assert.equal(accepted.json.status, 'accepted');
    assert.deepEqual(await listed(BETA_MEMBER), [image.id]);
    assert.deepEqual(await listed(BETA_MEMBER, '&visibility=shared'), [image.id]);
    assert.deepEqual(await listed(BETA_MEMBER, '&member_status=pending'), []);
    assert.deepEqual(await listed(BETA_MEMBER, '&member_status=all'), [image.id]);

    const rejected = await api.put(`/v2/images/${image.id}/members/beta`, { as: BETA_MEMBER, body: { status: 'rejected' } });
    assert.equal(rejected.json.status, 'rejected');
    assert.deepEqual(await listed(BETA_MEMBER), []);
    assert.deepEqual(await listed(BETA_MEMBER, '&member_status=rejected'), [image.id]);
    assert.equal((await api.get(`/v2/images/${image.id}`, { as: BETA_MEMBER })).status, 200, 'membership grants reading whatever the status');
    assert.deepEqual(await listed(GAMMA, '&member_status=all&visibility=all'), []);
  });

  it('shows every member to the owner and only its own record to a member', async () => {
    const image = await api.createImage({});
    await api.post(`/v2/images/${image.id}/members`, { member: 'beta' });
    await api.post(`/v2/images/${image.id}/members`, { member: 'gamma' });
    const owner = await api.get(`/v2/images/${image.id}/members`);
    assert.equal(owner.status, 200);
    assert.equal(owner.json.schema, '/v2/schemas/members');
    assert.deepEqual(owner.json.members.map((m: { member_id: string }) => m.member_id).sort(), ['beta', 'gamma']);
    assert.deepEqual((await api.get(`/v2/images/${image.id}/members`, { as: ALPHA_READER })).json.members.length, 2);
    const beta = await api.get(`/v2/images/${image.id}/members`, { as: BETA_MEMBER });
    assert.deepEqual(beta.json.members.map((m: { member_id: string }) => m.member_id), ['beta']);
    assert.equal((await api.get(`/v2/images/${image.id}/members`, { as: ADMIN })).json.members.length, 2);
    assert.equal((await api.get(`/v2/images/${image.id}/members/gamma`)).json.member_id, 'gamma');
    assert.equal((await api.get(`/v2/images/${image.id}/members/beta`, { as: BETA_MEMBER })).status, 200);
    assert.equal((await api.get(`/v2/images/${image.id}/members/gamma`, { as: BETA_MEMBER })).status, 404);
    assert.equal((await api.get(`/v2/images/${image.id}/members/delta`)).status, 404);
    assert.equal((await api.get(`/v2/images/${image.id}/members`, { as: { project: 'delta', roles: ['member'] } })).status, 404);
  });

  it('lets only the owner add and remove, and only the member change its status', async () => {
    const image = await api.createImage({});
    await api.post(`/v2/images/${image.id}/members`, { member: 'beta' });
    assert.equal((await api.post(`/v2/images/${image.id}/members`, { member: 'gamma' }, { as: BETA_MEMBER })).status, 403);
    assert.equal((await api.post(`/v2/images/${image.id}/members`, { member: 'gamma' }, { as: ALPHA_READER })).status, 403);
    const ownerAccepts = await api.put(`/v2/images/${image.id}/members/beta`, { body: { status: 'accepted' } });
    assert.equal(ownerAccepts.status, 403);
    assert.equal((await api.put(`/v2/images/${image.id}/members/beta`, { as: GAMMA, body: { status: 'accepted' } })).status, 404);
    assert.equal((await api.put(`/v2/images/${image.id}/members/beta`, { as: ADMIN, body: { status: 'accepted' } })).status, 200);
    assert.equal((await api.delete(`/v2/images/${image.id}/members/beta`, { as: BETA_MEMBER })).status, 403);
    assert.equal((await api.delete(`/v2/images/${image.id}/members/beta`)).status, 204);
    assert.equal((await api.delete(`/v2/images/${image.id}/members/beta`)).status, 404);
    assert.equal((await api.get(`/v2/images/${image.id}`, { as: BETA_MEMBER })).status, 404, 'a removed member loses access');
    const again = await api.post(`/v2/images/${image.id}/members`, { member: 'beta' });
    assert.equal(again.status, 200);
    assert.equal(again.json.status, 'pending', 'a re-added member starts pending again');
  });

  it('refuses bad bodies, duplicates, non-shared images and members over the quota', async () => {
    const image = await api.createImage({});
    assert.equal((await api.post(`/v2/images/${image.id}/members`, {})).status, 400);
    assert.match((await api.post(`/v2/images/${image.id}/members`, {})).json.message, /Member to be added not specified/);
    assert.equal((await api.post(`/v2/images/${image.id}/members`, { member: '' })).status, 400);
    assert.equal((await api.post(`/v2/images/${image.id}/members`, ['beta'])).status, 400);
    assert.equal((await api.post(`/v2/images/${image.id}/members`, { member: 'beta' })).status, 200);
    assert.equal((await api.post(`/v2/images/${image.id}/members`, { member: 'beta' })).status, 409);
    assert.equal((await api.post(`/v2/images/${image.id}/members`, { member: 'gamma' })).status, 200);
    const over = await api.post(`/v2/images/${image.id}/members`, { member: 'delta' });
    assert.equal(over.status, 413);
    assert.equal((await api.put(`/v2/images/${image.id}/members/beta`, { as: BETA_MEMBER, body: {} })).status, 400);
    assert.equal((await api.put(`/v2/images/${image.id}/members/beta`, { as: BETA_MEMBER, body: { status: 'maybe' } })).status, 400);

    const priv = await api.createImage({ visibility: 'private' });
    assert.equal((await api.post(`/v2/images/${priv.id}/members`, { member: 'beta' })).status, 403);
    assert.equal((await api.get(`/v2/images/${priv.id}/members`)).status, 403);
    assert.equal((await api.post('/v2/images/00000000-0000-0000-0000-000000000000/members', { member: 'beta' })).status, 404);

    // Making a shared image private keeps the records but members lose access.
    await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/visibility', value: 'private' }]);
    assert.equal((await api.get(`/v2/images/${image.id}`, { as: BETA_MEMBER })).status, 404);
    await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/visibility', value: 'shared' }]);
    assert.equal((await api.get(`/v2/images/${image.id}`, { as: BETA_MEMBER })).status, 200);
    assert.equal((await api.get(`/v2/images/${image.id}/members`)).json.members.length, 2);
  });
});
