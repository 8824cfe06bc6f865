/**
 * Drop-in proof: the real glance-api (Debian's, Glance 25.1) and Glimpse on
 * the same database (created by glance-manage) and the same store: a file
 * store, and Ceph RBD (the shared single-node cluster) as most deployments
 * run. What either writes, the other reads back field for field (the
 * rbd:// direct_url included), image data uploaded through one downloads
 * byte for byte through the other, and either deletes what the other wrote.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, type Identity } from '../helpers/client.js';
import { type TestDatabase, createTestDatabase } from '../helpers/databases.js';
import { CEPH_CONF, CEPH_POOL, CEPH_USER, cephSkip, rbdImages, rbdSnapshots } from '../helpers/ceph.js';
import { KEYSTONE_INI, identityFor, keystoneSkip } from '../helpers/keystone.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { requireTool } from '../helpers/tools.js';
import { waitFor } from '../helpers/upload.js';

const skip =
  requireTool('glance-api', () => existsSync('/usr/bin/glance-api') && existsSync('/usr/bin/glance-manage'), 'apt-get install glance-api') ||
  keystoneSkip();

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** Fields that name the serving endpoint rather than the image. */
const comparable = (image: Record<string, unknown>) => {
  const { self: _s, file: _f, schema: _c, tags, ...rest } = image;
  return { ...rest, tags: [...(tags as string[])].sort() };
};

/** What both services are told about the store, in glance-api.conf's words. */
function storeIni(store: 'file' | 'rbd', imagesDir: string): string {
  if (store === 'file') return `[glance_store]\nstores = file,http\ndefault_store = file\nfilesystem_store_datadir = ${imagesDir}\n`;
  return (
    '[DEFAULT]\nshow_image_direct_url = true\n' +
    `[glance_store]\nstores = rbd,http\ndefault_store = rbd\nrbd_store_pool = ${CEPH_POOL}\nrbd_store_user = ${CEPH_USER}\nrbd_store_ceph_conf = ${CEPH_CONF}\nrbd_store_chunk_size = 8\n`
  );
}

const CASES = [
  { dialect: 'sqlite', store: 'file' },
  { dialect: 'mysql', store: 'file' },
  { dialect: 'sqlite', store: 'rbd' },
] as const;

for (const { dialect, store } of CASES) {
  describe(`glance-api and Glimpse on one ${dialect} database${store === 'rbd' ? ' and one Ceph pool' : ''}`, { skip: skip || (store === 'rbd' && cephSkip()) }, () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'glimpse-dropin-'));
    const imagesDir = path.join(dir, 'images');
    let database: TestDatabase | null = null;
    let glanceProcess: ChildProcess;
    let glance: Client;
    let glimpse: Client;
    let glimpseServer: TestServer;
    let alpha: Identity;
    let beta: Identity;

    before(async () => {
      alpha = await identityFor('alpha-member', 'pass', 'alpha');
      beta = await identityFor('beta-member', 'pass', 'beta');
      let url: string;
      if (dialect === 'mysql') {
        database = await createTestDatabase('mysql', true);
        url = database!.url;
      } else {
        url = `sqlite:///${path.join(dir, 'glance.sqlite')}`;
      }
      const port = await freePort();
      copyFileSync('/etc/glance/glance-api-paste.ini', path.join(dir, 'glance-api-paste.ini'));
      const conf = path.join(dir, 'glance-api.conf');
      writeFileSync(
        conf,
        `[DEFAULT]\nbind_host = 127.0.0.1\nbind_port = ${port}\nworkers = 1\nlog_file = ${path.join(dir, 'glance.log')}\n` +
          `[database]\nconnection = ${url}\n` +
          storeIni(store, imagesDir) +
          `[paste_deploy]\nflavor = keystone\nconfig_file = ${path.join(dir, 'glance-api-paste.ini')}\n` +
          `[oslo_policy]\npolicy_file = ${path.join(dir, 'no-policy.yaml')}\n` +
          `${KEYSTONE_INI()}auth_type = password\n`,
      );
      // Glance creates the schema, as in a real deployment; Glimpse then runs on it unchanged.
      execFileSync('/usr/bin/glance-manage', ['--config-file', conf, 'db_sync'], { stdio: 'ignore' });
      glanceProcess = spawn('/usr/bin/glance-api', ['--config-file', conf], { stdio: 'ignore', detached: true });
      glance = new Client(`http://127.0.0.1:${port}`, alpha);
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/versions`).catch(() => null))?.status === 200, 'glance-api', 60_000);
      glimpseServer = await startTestServer({
        auth: 'keystone',
        database: url,
        ini: `${storeIni(store, imagesDir)}${KEYSTONE_INI()}`,
      });
      glimpse = new Client(glimpseServer.url, alpha);
    });
    after(async () => {
      if (glanceProcess?.pid) process.kill(-glanceProcess.pid, 'SIGKILL');
      await glimpseServer?.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('reads what glance-api wrote, field for field, and serves its data', async () => {
      const data = randomBytes(123_457);
      const created = await glance.createImage({ name: 'from-glance', disk_format: 'raw', container_format: 'bare', min_disk: 3, os_distro: 'debian', 'owner_specified.openstack.sha256': 'x', tags: ['a', 'b'] });
      assert.equal((await glance.upload(created.id, data)).status, 204);
      await glance.patch(`/v2/images/${created.id}`, [{ op: 'add', path: '/hw_disk_bus', value: 'virtio' }]);
      const viaGlance = (await glance.get(`/v2/images/${created.id}`)).json;
      const viaGlimpse = (await glimpse.get(`/v2/images/${created.id}`)).json;
      assert.deepEqual(comparable(viaGlimpse), comparable(viaGlance));
      if (store === 'rbd') assert.match(String(viaGlimpse.direct_url), new RegExp(`^rbd://[0-9a-f-]{36}/${CEPH_POOL}/${created.id}/snap$`));
      const bytes = Buffer.from(await (await fetch(`${glimpseServer.url}/v2/images/${created.id}/file`, { headers: { 'x-auth-token': alpha.token! } })).arrayBuffer());
      assert.ok(bytes.equals(data));
      const listed = (await glimpse.get('/v2/images?os_distro=debian')).json.images.map((i: { id: string }) => i.id);
      assert.deepEqual(listed, [created.id]);
    });

    it('writes what glance-api reads, field for field, and serves Glimpse\'s data to it', async () => {
      const data = randomBytes(54_321);
      const created = await glimpse.createImage({ name: 'from-glimpse', disk_format: 'raw', container_format: 'bare', min_ram: 512, os_type: 'linux', tags: ['c'] });
      assert.equal((await glimpse.upload(created.id, data)).status, 204);
      await glimpse.patch(`/v2/images/${created.id}`, [{ op: 'replace', path: '/name', value: 'renamed' }, { op: 'add', path: '/x', value: 'y' }]);
      await glimpse.put(`/v2/images/${created.id}/tags/d`);
      const viaGlimpse = (await glimpse.get(`/v2/images/${created.id}`)).json;
      const viaGlance = (await glance.get(`/v2/images/${created.id}`)).json;
      assert.deepEqual(comparable(viaGlance), comparable(viaGlimpse));
      const res = await fetch(`${glance['baseUrl']}/v2/images/${created.id}/file`, { headers: { 'x-auth-token': alpha.token! } });
      assert.equal(res.status, 200);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(data));
      assert.equal(res.headers.get('content-md5'), viaGlimpse.checksum);
    });

    it('shows glance-api a family member Glimpse deprecated as an ordinary hidden image with properties', async () => {
      const created = await glimpse.createImage({ name: 'deprecated-by-glimpse', disk_format: 'raw', container_format: 'bare', glimpse_family: `dropin-${dialect}` });
      assert.equal((await glimpse.upload(created.id, randomBytes(4096))).status, 204);
      assert.equal((await glimpse.post(`/v2/images/${created.id}/actions/deprecate`, { delete_at: '2099-01-01T00:00:00Z' })).status, 200);
      const viaGlance = (await glance.get(`/v2/images/${created.id}`)).json;
      assert.equal(viaGlance.os_hidden, true);
      assert.equal(viaGlance.glimpse_family, `dropin-${dialect}`);
      assert.equal(viaGlance.glimpse_delete_at, '2099-01-01T00:00:00.000Z');
      assert.deepEqual(comparable(viaGlance), comparable((await glimpse.get(`/v2/images/${created.id}`)).json));
      const listed = async (query: string) => (await glance.get(`/v2/images?glimpse_family=dropin-${dialect}${query}`)).json.images.map((i: { id: string }) => i.id);
      assert.deepEqual(await listed(''), [], 'glance-api hides it from default lists too');
      assert.deepEqual(await listed('&os_hidden=true'), [created.id]);
      // And glance-api's own change (undoing the hiding) is what Glimpse then sees.
      await glance.patch(`/v2/images/${created.id}`, [{ op: 'replace', path: '/os_hidden', value: false }]);
      assert.equal((await glimpse.get(`/v2/glimpse/families/dropin-${dialect}`)).json.versions[0].os_hidden, false);
    });

    if (store === 'rbd') {
      it('deletes through either what the other wrote, RBD image and snapshot included', async () => {
        for (const [writer, deleter] of [[glance, glimpse], [glimpse, glance]]) {
          const image = await writer.createImage({ disk_format: 'raw', container_format: 'bare' });
          assert.equal((await writer.upload(image.id, randomBytes(3 * 1024 * 1024))).status, 204);
          assert.deepEqual(rbdSnapshots(image.id).map((s) => [s.name, s.protected]), [['snap', 'true']]);
          assert.equal((await deleter.delete(`/v2/images/${image.id}`)).status, 204);
          assert.ok(!rbdImages().includes(image.id), `the RBD image of ${image.id} is gone`);
        }
      });
      return;
    }

    it('reads each other\'s metadata definitions', async () => {
      const admin = await identityFor('admin', 'admin-pass', 'admin');
      const doc = {
        namespace: `OS::DropIn::${dialect}`,
        display_name: 'Drop-in',
        visibility: 'public',
        protected: false,
        resource_type_associations: [{ name: 'OS::Glance::Image', prefix: 'hw_' }],
        properties: { bus: { title: 'Bus', type: 'string', enum: ['virtio', 'scsi'] } },
        objects: [{ name: 'Obj', description: 'an object', properties: { p: { title: 'P', type: 'integer' } } }],
        tags: [{ name: 'one' }],
      };
      assert.deepEqual((await glimpse.get('/v2/metadefs/namespaces', { as: admin })).json.namespaces, [], "Glimpse never seeds a Glance database");
      assert.equal((await glance.post('/v2/metadefs/namespaces', doc, { as: admin })).status, 201);
      const strip = (ns: Record<string, any>) => {
        const { self: _s, schema: _c, resource_type_associations: rta, ...rest } = ns;
        return { ...rest, resource_type_associations: rta.map(({ name, prefix }: Record<string, string>) => ({ name, prefix })) };
      };
      const viaGlance = (await glance.get(`/v2/metadefs/namespaces/${doc.namespace}`, { as: admin })).json;
      const viaGlimpse = (await glimpse.get(`/v2/metadefs/namespaces/${doc.namespace}`, { as: admin })).json;
      assert.deepEqual(strip(viaGlimpse), strip(viaGlance));
      assert.equal((await glimpse.post(`/v2/metadefs/namespaces/${doc.namespace}/tags/two`, undefined, { as: admin })).status, 201);
      assert.equal((await glimpse.post(`/v2/metadefs/namespaces/${doc.namespace}/properties`, { name: 'cores', title: 'Cores', type: 'integer' }, { as: admin })).status, 201);
      const after = (await glance.get(`/v2/metadefs/namespaces/${doc.namespace}`, { as: admin })).json;
      assert.deepEqual(after.tags.map((t: { name: string }) => t.name).sort(), ['one', 'two']);
      assert.deepEqual(after.properties.cores, { title: 'Cores', type: 'integer' });
      assert.equal((await glimpse.delete(`/v2/metadefs/namespaces/${doc.namespace}`, { as: admin })).status, 204);
      assert.equal((await glance.get(`/v2/metadefs/namespaces/${doc.namespace}`, { as: admin })).status, 404);
    });

    it('shares members both ways and agrees on deletions', async () => {
      const image = await glance.createImage({ name: 'shared' });
      const added = await glance.post(`/v2/images/${image.id}/members`, { member: beta.project });
      assert.equal(added.status, 200);
      const glimpseMembers = (await glimpse.get(`/v2/images/${image.id}/members`)).json.members;
      assert.deepEqual(glimpseMembers, (await glance.get(`/v2/images/${image.id}/members`)).json.members);
      assert.equal((await glimpse.put(`/v2/images/${image.id}/members/${beta.project}`, { as: beta, body: { status: 'accepted' } })).status, 200);
      assert.equal((await glance.get(`/v2/images/${image.id}/members/${beta.project}`)).json.status, 'accepted');
      assert.deepEqual((await glance.get('/v2/images', { as: beta })).json.images.map((i: { id: string }) => i.id), [image.id]);
      assert.equal((await glimpse.delete(`/v2/images/${image.id}/members/${beta.project}`)).status, 204);
      assert.deepEqual((await glance.get(`/v2/images/${image.id}/members`)).json.members, []);
      assert.equal((await glance.post(`/v2/images/${image.id}/members`, { member: beta.project })).json.status, 'pending', 'Glance revives the row Glimpse soft-deleted');
      assert.equal((await glimpse.delete(`/v2/images/${image.id}`)).status, 204);
      assert.equal((await glance.get(`/v2/images/${image.id}`)).status, 404);
    });
  });
}
