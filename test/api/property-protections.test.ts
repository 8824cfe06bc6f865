/** Property protections: hidden and immutable properties per role or policy rule, as Glance. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ADMIN, ALPHA_MEMBER, Client } from '../helpers/client.js';
import { composeTestServer, suiteServer } from '../helpers/server.js';

// Debian's sample, plus a read-only and a hidden family.
const ROLES = `[^x_ro_.*]
create = admin
read = admin,member
update = admin
delete = admin

[^x_secret_.*]
create = admin
read = admin
update = admin
delete = admin

[^x_.*]
create = admin,member,_member_
read = admin,member,_member_
update = admin,member,_member_
delete = admin,member,_member_

[.*]
create = admin
read = admin
update = admin
delete = admin
`;

describe('property protections (roles)', () => {
  const server = suiteServer({ auth: 'headers', ini: '[DEFAULT]\nproperty_protection_file = protections.conf\n', files: { 'protections.conf': ROLES } });
  const api = server.client(ALPHA_MEMBER);

  it('lets members use x_ properties freely and keeps everything else for admins', async () => {
    const image = await api.createImage({ x_color: 'red' });
    assert.equal(image.x_color, 'red');
    assert.equal((await api.post('/v2/images', { os_distro: 'ubuntu' })).status, 403);
    const byAdmin = await api.createImage({ visibility: 'public', os_distro: 'ubuntu', x_ro_build: '42', x_secret_key: 'k' }, { as: ADMIN });
    const asMember = (await api.get(`/v2/images/${byAdmin.id}`)).json;
    assert.equal(asMember.x_ro_build, '42');
    assert.equal('os_distro' in asMember, false, 'unreadable properties are left out');
    assert.equal('x_secret_key' in asMember, false);
    const asAdmin = (await api.get(`/v2/images/${byAdmin.id}`, { as: ADMIN })).json;
    assert.equal(asAdmin.os_distro, 'ubuntu');
    assert.equal(asAdmin.x_secret_key, 'k');
    const listed = (await api.get(`/v2/images?id=${byAdmin.id}`)).json.images[0];
    assert.equal('x_secret_key' in listed, false);
  });

  it('refuses creating, updating and deleting protected properties with 403', async () => {
    const image = await api.createImage({ x_color: 'red' });
    await api.patch(`/v2/images/${image.id}`, [{ op: 'add', path: '/x_ro_build', value: '1' }, { op: 'add', path: '/x_secret_key', value: 's' }], { as: ADMIN });
    const updateRo = await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/x_ro_build', value: '2' }]);
    assert.equal(updateRo.status, 403);
    assert.equal((await api.patch(`/v2/images/${image.id}`, [{ op: 'remove', path: '/x_ro_build' }])).status, 403);
    assert.equal((await api.patch(`/v2/images/${image.id}`, [{ op: 'add', path: '/hw_disk_bus', value: 'scsi' }])).status, 403);
    const ok = await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/x_color', value: 'blue' }, { op: 'replace', path: '/name', value: 'base attributes are never protected' }]);
    assert.equal(ok.status, 200);
    assert.equal('x_secret_key' in ok.json, false);
    const stored = (await api.get(`/v2/images/${image.id}`, { as: ADMIN })).json;
    assert.equal(stored.x_secret_key, 's', 'a hidden property survives the member\'s patch');
    assert.equal(stored.x_ro_build, '1');
    assert.equal(stored.x_color, 'blue');
  });
});

describe('property protections (policies)', () => {
  it('checks each operation against a policy rule', async () => {
    const server = await composeTestServer({
      auth: 'headers',
      ini: '[DEFAULT]\nproperty_protection_file = p.conf\nproperty_protection_rule_format = policies\n',
      files: {
        'p.conf': '[^x_.*]\ncreate = default\nread = default\nupdate = default\ndelete = default\n\n[.*]\ncreate = context_is_admin\nread = context_is_admin\nupdate = context_is_admin\ndelete = context_is_admin\n',
      },
    });
    try {
      const api = new Client(server.url, ALPHA_MEMBER);
      assert.equal((await api.post('/v2/images', { x_a: '1' })).status, 201);
      assert.equal((await api.post('/v2/images', { b: '1' })).status, 403);
      assert.equal((await api.post('/v2/images', { b: '1' }, { as: ADMIN })).status, 201);
    } finally {
      await server.close();
    }
  });

  it('refuses to start on a broken protections file', async () => {
    await assert.rejects(composeTestServer({ ini: '[DEFAULT]\nproperty_protection_file = p.conf\n', files: { 'p.conf': '[x\n' } }), /property_protection_file/);
    await assert.rejects(composeTestServer({ ini: '[DEFAULT]\nproperty_protection_file = p.conf\n', files: { 'p.conf': '[^x_.*]\ncreate = admin\nread = admin\nupdate = admin\n' } }), /lacks "delete"/);
    await assert.rejects(composeTestServer({ ini: '[DEFAULT]\nproperty_protection_file = p.conf\n', files: { 'p.conf': '[(]\ncreate = @\nread = @\nupdate = @\ndelete = @\n' } }), /not a valid regular expression/);
    await assert.rejects(composeTestServer({ ini: '[DEFAULT]\nproperty_protection_file = p.conf\n', files: { 'p.conf': '[.*]\ncreate = @,!\nread = @\nupdate = @\ndelete = @\n' } }), /exclude each other/);
    await assert.rejects(composeTestServer({ ini: '[DEFAULT]\nproperty_protection_file = missing.conf\n' }), /does not exist/);
  });
});
