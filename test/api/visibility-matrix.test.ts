/**
 * Actors × visibilities × calls: the exact status code of each, and that no
 * listing ever shows an image the actor may not see.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN, ALPHA_MEMBER, ALPHA_READER, ANONYMOUS, BETA_MEMBER, Client, type Identity } from '../helpers/client.js';
import { KEYSTONE_INI, ensureProjectUser, identityFor, keystoneSkip } from '../helpers/keystone.js';
import { type TestServer, type TestServerOptions, composeTestServer } from '../helpers/server.js';

const VISIBILITIES = ['public', 'private', 'shared', 'community'] as const;
type Vis = (typeof VISIBILITIES)[number];
type Actor = 'admin' | 'ownerMember' | 'ownerReader' | 'other' | 'pending' | 'accepted' | 'anonymous';

/** Trusted identity headers. */
const headerActors = async (): Promise<Record<Actor, Identity>> => ({
  admin: ADMIN,
  ownerMember: ALPHA_MEMBER,
  ownerReader: ALPHA_READER,
  other: BETA_MEMBER,
  pending: { project: 'pending-proj', user: 'p', roles: ['member'] },
  accepted: { project: 'accepted-proj', user: 'a', roles: ['member'] },
  anonymous: ANONYMOUS,
});

/** Real Keystone tokens of the test Keystone's users. */
const keystoneActors = async (): Promise<Record<Actor, Identity>> => {
  await ensureProjectUser('glimpse-pending', 'glimpse-pending-user', 'pass');
  await ensureProjectUser('glimpse-accepted', 'glimpse-accepted-user', 'pass');
  return {
    admin: await identityFor('admin', 'admin-pass', 'admin'),
    ownerMember: await identityFor('alpha-member', 'pass', 'alpha'),
    ownerReader: await identityFor('alpha-reader', 'pass', 'alpha'),
    other: await identityFor('beta-member', 'pass', 'beta'),
    pending: await identityFor('glimpse-pending-user', 'pass', 'glimpse-pending'),
    accepted: await identityFor('glimpse-accepted-user', 'pass', 'glimpse-accepted'),
    anonymous: ANONYMOUS,
  };
};

/** Can the actor see an image of this visibility at all (Glance's database-level rule)? */
function sees(actor: Actor, vis: Vis): boolean {
  if (actor === 'anonymous') return false;
  if (actor === 'admin' || actor === 'ownerMember' || actor === 'ownerReader') return true;
  if (vis === 'public' || vis === 'community') return true;
  return vis === 'shared' && (actor === 'pending' || actor === 'accepted');
}
const isOwnerSide = (a: Actor) => a === 'admin' || a === 'ownerMember';

const expected = {
  show: (a: Actor, v: Vis) => (a === 'anonymous' ? 401 : sees(a, v) ? 200 : 404),
  download: (a: Actor, v: Vis) => (a === 'anonymous' ? 401 : !sees(a, v) ? 404 : a === 'ownerReader' ? 403 : 200),
  patch: (a: Actor, v: Vis) => (a === 'anonymous' ? 401 : !sees(a, v) ? 404 : isOwnerSide(a) ? 200 : 403),
  tag: (a: Actor, v: Vis) => (a === 'anonymous' ? 401 : !sees(a, v) ? 404 : isOwnerSide(a) ? 204 : 403),
  deactivate: (a: Actor, v: Vis) => (a === 'anonymous' ? 401 : !sees(a, v) ? 404 : isOwnerSide(a) ? 204 : 403),
  delete: (a: Actor, v: Vis) => (a === 'anonymous' ? 401 : !sees(a, v) ? 404 : isOwnerSide(a) ? 204 : 403),
  /** PUT /file on an active image: the status refuses owners, the policy everyone else. */
  upload: (a: Actor, v: Vis) => (a === 'anonymous' ? 401 : !sees(a, v) ? 404 : isOwnerSide(a) ? 409 : 403),
  listMembers: (a: Actor, v: Vis) => (a === 'anonymous' ? 401 : !sees(a, v) ? 404 : v !== 'shared' ? 403 : 200),
  addMember: (a: Actor, v: Vis) => (a === 'anonymous' ? 401 : !sees(a, v) ? 404 : !isOwnerSide(a) || v !== 'shared' ? 403 : 200),
  /** In the default list (no filters). */
  listed: (a: Actor, v: Vis) => {
    if (a === 'anonymous') return false;
    if (a === 'ownerMember' || a === 'ownerReader') return true;
    if (a === 'admin') return v !== 'community';
    if (v === 'public') return true;
    return v === 'shared' && a === 'accepted';
  },
};

const MODES: [string, TestServerOptions, () => Promise<Record<Actor, Identity>>, string | false][] = [
  ['headers', { auth: 'headers' }, headerActors, false],
  ['keystone', { auth: 'keystone', ini: KEYSTONE_INI() }, keystoneActors, keystoneSkip()],
];

for (const [mode, options, actorsOf, skip] of MODES) describe(`visibility matrix (${mode} mode)`, { skip }, () => {
  let server: TestServer;
  let api: Client;
  let ACTORS: Record<Actor, Identity>;
  const ids = {} as Record<Vis, string>;

  async function fixture(vis: Vis): Promise<string> {
    const { admin, ownerMember, pending, accepted } = ACTORS;
    const image = await api.createImage({ name: `m-${vis}`, visibility: vis, disk_format: 'raw', container_format: 'bare' }, { as: vis === 'public' ? admin : ownerMember });
    if (vis === 'public') await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/owner', value: ownerMember.project }], { as: admin });
    assert.equal((await api.upload(image.id, `data-${vis}`)).status, 204);
    if (vis === 'shared') {
      await api.post(`/v2/images/${image.id}/members`, { member: pending.project });
      await api.post(`/v2/images/${image.id}/members`, { member: accepted.project });
      await api.put(`/v2/images/${image.id}/members/${accepted.project}`, { as: accepted, body: { status: 'accepted' } });
    }
    return image.id;
  }

  before(async () => {
    ACTORS = await actorsOf();
    server = await composeTestServer(options);
    api = new Client(server.url, ACTORS.ownerMember);
    for (const vis of VISIBILITIES) ids[vis] = await fixture(vis);
  });
  after(() => server?.close());

  for (const actor of ['admin', 'ownerMember', 'ownerReader', 'other', 'pending', 'accepted', 'anonymous'] as Actor[]) {
    it(`${actor}: exact status of every read and write call, and what it lists`, async () => {
      const as = ACTORS[actor];
      const ADMIN = ACTORS.admin;
      const listed = (await api.get('/v2/images?limit=1000', { as })).json?.images?.map((i: { id: string }) => i.id) ?? [];
      const everything = actor === 'anonymous' ? [] : (await api.get('/v2/images?limit=1000&visibility=all&member_status=all', { as })).json.images.map((i: { id: string }) => i.id);
      for (const vis of VISIBILITIES) {
        const id = ids[vis];
        const where = `${actor} on ${vis}`;
        assert.equal(listed.includes(id), expected.listed(actor, vis), `listed: ${where}`);
        assert.equal(everything.includes(id), sees(actor, vis), `visibility=all: ${where}`);
        assert.equal((await api.get(`/v2/images/${id}`, { as })).status, expected.show(actor, vis), `show: ${where}`);
        const download = await api.get(`/v2/images/${id}/file`, { as });
        assert.equal(download.status, expected.download(actor, vis), `download: ${where}`);
        if (download.status === 200) assert.equal(download.text, `data-${vis}`);
        assert.equal((await api.patch(`/v2/images/${id}`, [{ op: 'add', path: '/touched', value: actor }], { as })).status, expected.patch(actor, vis), `patch: ${where}`);
        assert.equal((await api.put(`/v2/images/${id}/tags/${actor}`, { as })).status, expected.tag(actor, vis), `tag: ${where}`);
        const deactivate = await api.post(`/v2/images/${id}/actions/deactivate`, undefined, { as });
        assert.equal(deactivate.status, expected.deactivate(actor, vis), `deactivate: ${where}`);
        if (deactivate.status === 204) assert.equal((await api.post(`/v2/images/${id}/actions/reactivate`, undefined, { as })).status, 204);
        assert.equal((await api.upload(id, 'more', { as })).status, expected.upload(actor, vis), `upload: ${where}`);
        const members = await api.get(`/v2/images/${id}/members`, { as });
        assert.equal(members.status, expected.listMembers(actor, vis), `list members: ${where}`);
        if (members.status === 200) {
          const seen = members.json.members.map((m: { member_id: string }) => m.member_id).sort();
          const all = [ACTORS.pending.project, ACTORS.accepted.project].sort();
          assert.deepEqual(seen, actor === 'pending' || actor === 'accepted' ? [as.project] : all, `members seen: ${where}`);
        }
        const added = await api.post(`/v2/images/${id}/members`, { member: 'matrix-extra' }, { as });
        assert.equal(added.status, expected.addMember(actor, vis), `add member: ${where}`);
        if (added.status === 200) assert.equal((await api.delete(`/v2/images/${id}/members/matrix-extra`, { as })).status, 204);
        // A protected image answers delete without deleting: the code shows the decision.
        await api.patch(`/v2/images/${id}`, [{ op: 'replace', path: '/protected', value: true }], { as: ADMIN });
        const del = await api.delete(`/v2/images/${id}`, { as });
        const expectedDelete = expected.delete(actor, vis) === 204 ? 403 : expected.delete(actor, vis);
        assert.equal(del.status, expectedDelete, `delete: ${where}`);
        if (del.status === 404) assert.doesNotMatch(del.text, /protected/, `a 404 must not reveal the image: ${where}`);
        await api.patch(`/v2/images/${id}`, [{ op: 'replace', path: '/protected', value: false }], { as: ADMIN });
      }
    });
  }
});
