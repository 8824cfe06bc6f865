/**
 * The identity contract each auth mode keeps (the visibility matrix then runs
 * the same calls over headers and Keystone identities):
 * - a caller's images are owned by the caller's project, and only an admin
 *   sees another project's private image;
 * - no credentials: 401, or with `allow_anonymous_access` a read-only caller
 *   who sees public images only;
 * - what a client sends beside its credentials never changes who it is;
 * - noauth makes every caller the admin of the noauth project.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ADMIN, ALPHA_MEMBER, ANONYMOUS, BETA_MEMBER, type Identity } from '../helpers/client.js';
import { KEYSTONE_INI, identityFor, keystoneSkip } from '../helpers/keystone.js';
import { type TestServerOptions, suiteServer } from '../helpers/server.js';

interface Mode {
  name: string;
  options: TestServerOptions;
  skip: string | false;
  /** The admin, alpha's member and beta's member, each with its project id as the server knows it. */
  callers(): Promise<{ admin: Identity; alpha: Identity; beta: Identity }>;
}

const MODES: Mode[] = [
  { name: 'headers', options: { auth: 'headers' }, skip: false, callers: async () => ({ admin: ADMIN, alpha: ALPHA_MEMBER, beta: BETA_MEMBER }) },
  {
    name: 'keystone',
    options: { auth: 'keystone', ini: KEYSTONE_INI() },
    skip: keystoneSkip(),
    callers: async () => ({
      admin: await identityFor('admin', 'admin-pass', 'admin'),
      alpha: await identityFor('alpha-member', 'pass', 'alpha'),
      beta: await identityFor('beta-member', 'pass', 'beta'),
    }),
  },
];

/** Headers a client might add to pass for someone else. */
const FORGED = { 'x-roles': 'admin', 'x-project-id': 'admin-project', 'x-identity-status': 'Confirmed', 'x-user-id': 'admin-user' };

for (const mode of MODES) {
  describe(`identity contract (${mode.name} mode)`, { skip: mode.skip }, () => {
    const server = suiteServer({ ...mode.options, ini: `${mode.options.ini ?? ''}\n[DEFAULT]\nallow_anonymous_access = false\n` });
    const api = server.client();
    let who: Awaited<ReturnType<Mode['callers']>>;
    before(async () => {
      who = await mode.callers();
    });

    it('owns a caller’s images by its project, and hides them from other projects but not from the admin', async () => {
      const created = await api.post('/v2/images', { name: 'mine' }, { as: who.alpha });
      assert.equal(created.status, 201);
      assert.equal(created.json.owner, who.alpha.project);
      assert.equal((await api.get(`/v2/images/${created.json.id}`, { as: who.beta })).status, 404);
      assert.equal((await api.get(`/v2/images/${created.json.id}`, { as: who.admin })).status, 200);
    });

    it('answers a request without credentials with 401 in Glance’s error format', async () => {
      const res = await api.get('/v2/images', { as: ANONYMOUS });
      assert.equal(res.status, 401);
      assert.match(res.text, /requires authentication/);
    });

    it('never lets headers beside the credentials change who the caller is', async () => {
      if (mode.name === 'headers') {
        // Trusted headers are the credentials; without X-Identity-Status: Confirmed they are none.
        const res = await api.get('/v2/images', { as: ANONYMOUS, headers: { ...FORGED, 'x-identity-status': 'Invalid' } });
        assert.equal(res.status, 401);
        return;
      }
      const hidden = await api.post('/v2/images', { name: 'beta-only' }, { as: who.beta });
      const res = await api.get(`/v2/images/${hidden.json.id}`, { as: who.alpha, headers: FORGED });
      assert.equal(res.status, 404, 'alpha with forged admin headers is still alpha');
      assert.equal((await api.post('/v2/images', { name: 'x' }, { as: who.alpha, headers: FORGED })).json.owner, who.alpha.project);
    });
  });

  describe(`anonymous access (${mode.name} mode, allow_anonymous_access = true)`, { skip: mode.skip }, () => {
    // Glance's default rules want a reader role to list or show: an operator who
    // opens images to anonymous callers opens those two rules too.
    const server = suiteServer({
      ...mode.options,
      ini: `${mode.options.ini ?? ''}\n[DEFAULT]\nallow_anonymous_access = true\n`,
      files: { 'policy.yaml': 'get_images: ""\nget_image: ""\n' },
    });
    const api = server.client();

    it('lets a caller without credentials read public images only, and write nothing', async () => {
      const { admin } = await mode.callers();
      const open = await api.post('/v2/images', { name: 'open', visibility: 'public' }, { as: admin });
      const closed = await api.post('/v2/images', { name: 'closed', visibility: 'private' }, { as: admin });
      const listed = (await api.get('/v2/images', { as: ANONYMOUS })).json.images.map((i: { id: string }) => i.id);
      assert.deepEqual(listed, [open.json.id]);
      assert.equal((await api.get(`/v2/images/${open.json.id}`, { as: ANONYMOUS })).status, 200);
      assert.equal((await api.get(`/v2/images/${closed.json.id}`, { as: ANONYMOUS })).status, 404);
      assert.equal((await api.post('/v2/images', { name: 'nobody' }, { as: ANONYMOUS })).status, 403);
      assert.equal((await api.delete(`/v2/images/${open.json.id}`, { as: ANONYMOUS })).status, 403);
    });
  });
}

describe('identity contract (noauth mode)', () => {
  const server = suiteServer({ auth: 'noauth' });
  const api = server.client();

  it('makes every caller, whatever it sends, the admin of the noauth project', async () => {
    const plain = await api.post('/v2/images', { name: 'local' }, { as: ANONYMOUS });
    assert.equal(plain.status, 201);
    const reader = await api.post('/v2/images', { name: 'as-reader' }, { as: { project: 'alpha', user: 'u', roles: ['reader'] } });
    assert.equal(reader.status, 201, 'identity headers are not read in noauth mode');
    assert.equal(reader.json.owner, plain.json.owner, 'one fixed project owns everything');
    const admin = await api.post('/v2/images', { name: 'public', visibility: 'public' }, { as: ANONYMOUS });
    assert.equal(admin.status, 201, 'publicize_image is an admin rule: the noauth caller is an admin');
  });
});

describe('anonymous access under Glance’s default rules', () => {
  const server = suiteServer({ auth: 'headers', ini: '[DEFAULT]\nallow_anonymous_access = true\n' });
  const api = server.client();

  it('admits the caller without credentials, and the rules (reader role) refuse it: 403, not 401', async () => {
    const res = await api.get('/v2/images', { as: ANONYMOUS });
    assert.equal(res.status, 403);
    assert.match(res.json.message, /not authorized to complete get_images/);
  });
});
