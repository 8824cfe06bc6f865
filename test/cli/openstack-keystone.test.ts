/**
 * The real `openstack` CLI with password auth against the real Keystone, which
 * lists Glimpse in its catalog as the image service: sharing between projects.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KEYSTONE_INI, KEYSTONE_URL, keystoneSkip, projectId } from '../helpers/keystone.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { OPENSTACK, SHARED_DIR, openstackSkip } from '../helpers/tools.js';

const skip = openstackSkip() || keystoneSkip();

describe('openstack CLI with Keystone', { skip }, () => {
  let server: TestServer;
  const osc = (user: string, project: string, ...args: string[]) =>
    new Promise<string>((resolve, reject) => {
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OS_')));
      const auth = [
        '--os-auth-url', `${KEYSTONE_URL}/v3`, '--os-username', user, '--os-password', 'pass', '--os-project-name', project,
        '--os-user-domain-name', 'Default', '--os-project-domain-name', 'Default', '--os-interface', 'public',
      ];
      const child = spawn(OPENSTACK, [...auth, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`openstack ${args.join(' ')} failed (${code}): ${err}`))));
    });
  const json = async (user: string, project: string, ...args: string[]) => JSON.parse(await osc(user, project, ...args, '-f', 'json'));

  before(async () => {
    server = await startTestServer({ auth: 'keystone', ini: KEYSTONE_INI() });
    const set = spawnSync('bash', [path.join(SHARED_DIR, 'keystone', 'set-image-endpoint.sh'), server.url], { encoding: 'utf8' });
    if (set.status !== 0) throw new Error(`set-image-endpoint.sh failed: ${set.stderr}`);
  });
  after(() => server?.close());

  it('lists, shares, accepts and unshares images between projects', async () => {
    const beta = projectId('beta');
    const file = path.join(server.dataDir, 'to-share.raw');
    writeFileSync(file, randomBytes(4096));
    const image = await json('alpha-member', 'alpha', 'image', 'create', '--file', file, '--disk-format', 'raw', '--container-format', 'bare', '--shared', 'to-share');
    assert.equal(image.owner, projectId('alpha'));
    assert.deepEqual((await json('alpha-member', 'alpha', 'image', 'list')).map((i: { ID: string }) => i.ID), [image.id]);
    assert.deepEqual(await json('beta-member', 'beta', 'image', 'list'), []);

    const member = await json('alpha-member', 'alpha', 'image', 'add', 'project', image.id, beta);
    assert.equal(member.member_id, beta);
    assert.equal(member.status, 'pending');
    const members = await json('alpha-member', 'alpha', 'image', 'member', 'list', image.id);
    assert.deepEqual(members.map((m: { 'Member ID': string; Status: string }) => [m['Member ID'], m.Status]), [[beta, 'pending']]);

    await osc('beta-member', 'beta', 'image', 'set', '--accept', image.id);
    assert.deepEqual((await json('beta-member', 'beta', 'image', 'list')).map((i: { ID: string }) => i.ID), [image.id]);
    const accepted = await json('alpha-member', 'alpha', 'image', 'member', 'list', image.id);
    assert.equal(accepted[0].Status, 'accepted');

    await osc('alpha-member', 'alpha', 'image', 'remove', 'project', image.id, beta);
    assert.deepEqual(await json('beta-member', 'beta', 'image', 'list'), []);
    assert.deepEqual(await json('alpha-member', 'alpha', 'image', 'member', 'list', image.id), []);
  });
});
