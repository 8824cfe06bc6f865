/** The operator's policy file and the legacy (pre-secure-RBAC) defaults. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ADMIN, ALPHA_MEMBER, ALPHA_READER, BETA_MEMBER, Client } from '../helpers/client.js';
import { composeTestServer } from '../helpers/server.js';

describe('policy file', () => {
  it('overrides rules from policy.yaml found beside the config file', async () => {
    const server = await composeTestServer({
      auth: 'headers',
      ini: '[DEFAULT]\n',
      files: { 'policy.yaml': '# operators\' overrides\npublicize_image: "role:member"\nget_images: "!"\ncontext_is_admin: "role:admin or role:superuser"\n' },
    });
    try {
      const api = new Client(server.url, ALPHA_MEMBER);
      const image = await api.createImage({ visibility: 'public' });
      assert.equal(image.visibility, 'public');
      const list = await api.get('/v2/images');
      assert.equal(list.status, 403);
      const priv = await api.createImage({ visibility: 'private' });
      const superuser = { project: 'ops', user: 'root', roles: ['superuser'] };
      assert.equal((await api.get(`/v2/images/${priv.id}`, { as: superuser })).status, 200, 'context_is_admin redefined');
      assert.equal((await api.get(`/v2/images/${priv.id}`, { as: BETA_MEMBER })).status, 404);
    } finally {
      await server.close();
    }
  });

  it('reads a JSON policy file named by [oslo_policy] policy_file', async () => {
    const server = await composeTestServer({
      auth: 'headers',
      ini: '[oslo_policy]\npolicy_file = rules.json\n',
      files: { 'rules.json': JSON.stringify({ add_image: 'role:admin' }) },
    });
    try {
      const api = new Client(server.url, ALPHA_MEMBER);
      assert.equal((await api.post('/v2/images', {})).status, 403);
      assert.equal((await api.post('/v2/images', {}, { as: ADMIN })).status, 201);
    } finally {
      await server.close();
    }
  });

  it('refuses to start on an invalid policy file, naming the rule', async () => {
    await assert.rejects(
      composeTestServer({ auth: 'headers', ini: '', files: { 'policy.yaml': 'add_image: "role:admin or"\n' } }),
      /rule "add_image"/,
    );
    await assert.rejects(composeTestServer({ auth: 'headers', ini: '[oslo_policy]\npolicy_file = missing.yaml\n' }), /does not exist/);
  });

  it('applies the legacy rules with enforce_new_defaults = false: ownership, not roles', async () => {
    const server = await composeTestServer({ auth: 'headers', ini: '[oslo_policy]\nenforce_new_defaults = false\n' });
    try {
      const api = new Client(server.url, ALPHA_READER);
      const image = await api.createImage({ name: 'by-a-reader' });
      assert.equal((await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/name', value: 'x' }])).status, 200);
      assert.equal((await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/visibility', value: 'public' }])).status, 403);
      const community = await api.createImage({ visibility: 'community' });
      assert.equal((await api.patch(`/v2/images/${community.id}`, [{ op: 'replace', path: '/name', value: 'x' }], { as: BETA_MEMBER })).status, 403);
      assert.equal((await api.delete(`/v2/images/${image.id}`)).status, 204);
    } finally {
      await server.close();
    }
    await assert.rejects(
      composeTestServer({ auth: 'headers', ini: '[DEFAULT]\nenforce_secure_rbac = true\n[oslo_policy]\nenforce_new_defaults = false\n' }),
      /enforce_secure_rbac must equal/,
    );
  });
});
