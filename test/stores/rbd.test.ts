/**
 * The RBD store through the API on the real single-node Ceph of
 * ../shared/ceph: uploads and downloads byte for byte (whole and ranged), the
 * protected snapshot and rbd:// location glance-api would write, a delete
 * refused while Nova-style clones exist, rbd locations added by services
 * (v2.17) and owners (PATCH), thin provisioning, multi-store with
 * copy-image between a file store and RBD, and a writer killed mid-upload
 * whose RBD image recovery removes.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { CEPH_POOL, cephFsid, cephSkip, rbd, rbdImages, rbdSnapshots, rbdStoreIni } from '../helpers/ceph.js';
import { ADMIN, ALPHA_MEMBER, Client, type Identity } from '../helpers/client.js';
import { type ServerProcess, serveProcess, stopProcess } from '../helpers/process.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { slowUpload, waitFor } from '../helpers/upload.js';

const MiB = 1024 * 1024;
const skip = cephSkip();
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex');

/** Bytes Ceph has allocated for an image (fast-diff is on in the test pool). */
function usedBytes(image: string): number {
  const du = JSON.parse(rbd('du', '--format', 'json', `${CEPH_POOL}/${image}`)) as { images: { name: string; snapshot?: string; used_size: number }[] };
  return du.images.filter((i) => i.name === image).reduce((sum, i) => sum + i.used_size, 0);
}

describe('RBD store through the API', { skip }, () => {
  let server: TestServer;
  let api: Client;
  before(async () => {
    server = await startTestServer({
      auth: 'headers',
      ini: ['[DEFAULT]', 'show_multiple_locations = true', 'show_image_direct_url = true', '[glance_store]', 'default_store = rbd', ...rbdStoreIni('glance_store').slice(1)].join('\n'),
    });
    api = new Client(server.url, ALPHA_MEMBER);
  });
  after(() => server?.close());

  const download = async (id: string, range?: string) => {
    const res = await fetch(`${server.url}/v2/images/${id}/file`, {
      headers: { 'x-identity-status': 'Confirmed', 'x-project-id': 'alpha', 'x-roles': 'member', ...(range ? { range } : {}) },
    });
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
  };

  it('stores an upload as glance-api does: a protected snapshot, the rbd:// location, the bytes whole and ranged', async () => {
    const bytes = randomBytes(9 * MiB + 3);
    const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    assert.equal((await api.upload(image.id, bytes)).status, 204);
    const shown = (await api.get(`/v2/images/${image.id}`)).json;
    const location = `rbd://${cephFsid()}/${CEPH_POOL}/${image.id}/snap`;
    assert.equal(shown.status, 'active');
    assert.equal(shown.checksum, md5(bytes));
    assert.equal(shown.direct_url, location);
    assert.deepEqual(shown.locations, [{ url: location, metadata: {} }]);
    assert.deepEqual(rbdSnapshots(image.id).map((s) => [s.name, s.protected]), [['snap', 'true']]);
    assert.equal(JSON.parse(rbd('info', '--format', 'json', `${CEPH_POOL}/${image.id}`)).size, bytes.length);

    const whole = await download(image.id);
    assert.equal(whole.status, 200);
    assert.ok(whole.body.equals(bytes));
    for (const [start, end] of [[0, 0], [8 * MiB - 5, 8 * MiB + 5], [bytes.length - 10, bytes.length - 1]]) {
      const part = await download(image.id, `bytes=${start}-${end}`);
      assert.equal(part.status, 206);
      assert.ok(part.body.equals(bytes.subarray(start, end + 1)), `bytes ${start}-${end}`);
    }
    assert.equal((await api.delete(`/v2/images/${image.id}`)).status, 204);
    assert.ok(!rbdImages().includes(image.id), 'the RBD image is gone');
  });

  it('grows an image whose size was not announced and trims it to the bytes received', async () => {
    const bytes = randomBytes(20 * MiB + 11);
    const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    const chunks = [bytes.subarray(0, 7 * MiB), bytes.subarray(7 * MiB)];
    const res = await fetch(`${server.url}/v2/images/${image.id}/file`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'x-identity-status': 'Confirmed', 'x-project-id': 'alpha', 'x-roles': 'member' },
      body: new ReadableStream({ start: (c) => (chunks.forEach((b) => c.enqueue(b)), c.close()) }),
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 204);
    assert.equal(JSON.parse(rbd('info', '--format', 'json', `${CEPH_POOL}/${image.id}`)).size, bytes.length);
    assert.ok((await download(image.id)).body.equals(bytes));
    await api.delete(`/v2/images/${image.id}`);
  });

  it('refuses to delete an image while a clone of its snapshot exists (409), keeping everything, and deletes it once the clone is gone', async () => {
    const bytes = randomBytes(MiB);
    const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    await api.upload(image.id, bytes);
    const clone = `${image.id}_disk`;
    rbd('clone', `${CEPH_POOL}/${image.id}@snap`, `${CEPH_POOL}/${clone}`);
    try {
      const refused = await api.delete(`/v2/images/${image.id}`);
      assert.equal(refused.status, 409);
      assert.match(refused.text, new RegExp(`Image ${image.id} could not be deleted because it is in use`));
      assert.equal((await api.get(`/v2/images/${image.id}`)).json.status, 'active');
      assert.deepEqual(rbdSnapshots(image.id).map((s) => [s.name, s.protected]), [['snap', 'true']], 'the snapshot stays protected');
      assert.ok((await download(image.id)).body.equals(bytes));
    } finally {
      rbd('rm', '--no-progress', `${CEPH_POOL}/${clone}`);
    }
    assert.equal((await api.delete(`/v2/images/${image.id}`)).status, 204);
    assert.ok(!rbdImages().includes(image.id));
  });

  it('takes rbd locations from services (v2.17) and owners (PATCH), and keeps data that another image still points to', async () => {
    const SERVICE: Identity = { project: 'alpha', user: 'cinder', roles: ['reader', 'service'] };
    const bytes = randomBytes(2 * MiB);
    const source = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    await api.upload(source.id, bytes);
    const url = `rbd://${cephFsid()}/${CEPH_POOL}/${source.id}/snap`;

    const byApi = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    const refused = await api.post(`/v2/images/${byApi.id}/locations`, { url });
    assert.equal(refused.status, 403, 'a member may add only http locations');
    assert.equal((await api.post(`/v2/images/${byApi.id}/locations`, { url }, { as: SERVICE })).status, 202);
    await waitFor(async () => (await api.get(`/v2/images/${byApi.id}`)).json.os_hash_value === sha512(bytes), 'the hashes of the added location');
    assert.equal((await api.get(`/v2/images/${byApi.id}/locations`)).status, 403);
    assert.deepEqual((await api.get(`/v2/images/${byApi.id}/locations`, { as: SERVICE })).json, [{ url, metadata: {} }]);

    const byPatch = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    const missing = await api.patch(`/v2/images/${byPatch.id}`, [{ op: 'add', path: '/locations/-', value: { url: url.replace(source.id, byPatch.id), metadata: {} } }]);
    assert.equal(missing.status, 400, 'no RBD image there');
    const patched = await api.patch(`/v2/images/${byPatch.id}`, [{ op: 'add', path: '/locations/-', value: { url, metadata: {} } }]);
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.json.status, 'active');
    assert.equal(patched.json.size, bytes.length);
    assert.ok((await download(byPatch.id)).body.equals(bytes));

    for (const image of [byApi, byPatch]) {
      assert.equal((await api.delete(`/v2/images/${image.id}`)).status, 204);
      assert.ok(rbdImages().includes(source.id), 'data another image points to stays');
    }
    assert.ok((await download(source.id)).body.equals(bytes));
    assert.equal((await api.delete(`/v2/images/${source.id}`)).status, 204);
    assert.ok(!rbdImages().includes(source.id));
  });
});

describe('RBD thin provisioning', { skip }, () => {
  for (const thin of [true, false]) {
    it(`${thin ? 'skips' : 'writes'} the zero chunks with rbd_thin_provisioning = ${thin}`, async () => {
      const server = await startTestServer({ ini: ['[glance_store]', 'default_store = rbd', ...rbdStoreIni('glance_store', [`rbd_thin_provisioning = ${thin}`]).slice(1)].join('\n') });
      try {
        const api = new Client(server.url);
        const bytes = Buffer.concat([randomBytes(MiB), Buffer.alloc(24 * MiB), randomBytes(MiB)]);
        const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
        assert.equal((await api.upload(image.id, bytes)).status, 204);
        assert.ok(Buffer.from(await (await fetch(`${server.url}/v2/images/${image.id}/file`)).arrayBuffer()).equals(bytes));
        const used = usedBytes(image.id);
        if (thin) assert.ok(used <= 16 * MiB, `thin: ${used} bytes used for 2 MiB of data in 26 MiB`);
        else assert.ok(used >= 24 * MiB, `thick: ${used} bytes used for 26 MiB`);
        await api.delete(`/v2/images/${image.id}`);
      } finally {
        await server.close();
      }
    });
  }
});

describe('multi-store with a file store and RBD', { skip }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      auth: 'headers',
      ini: [
        '[DEFAULT]',
        'enabled_backends = local:file, ceph:rbd',
        'show_multiple_locations = true',
        '[glance_store]',
        'default_backend = local',
        ...rbdStoreIni('ceph'),
      ].join('\n'),
    });
  });
  after(() => server?.close());

  it('copies an image from the file store to RBD, each byte-identical, and deletes it from both', async () => {
    const api = new Client(server.url, ADMIN);
    const detail = (await api.get('/v2/info/stores/detail')).json.stores;
    assert.deepEqual(detail[1], { id: 'ceph', type: 'rbd', properties: { chunk_size: 8 * MiB, pool: CEPH_POOL, thin_provisioning: false, fsid: detail[1].properties.fsid } });
    const bytes = randomBytes(3 * MiB + 1);
    const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    assert.equal((await api.upload(image.id, bytes)).status, 204);
    const copy = await api.post(`/v2/images/${image.id}/import`, { method: { name: 'copy-image' }, stores: ['ceph'] });
    assert.equal(copy.status, 202);
    let shown: Record<string, any> = {};
    await waitFor(async () => {
      shown = (await api.get(`/v2/images/${image.id}`)).json;
      return shown.stores === 'local,ceph' && !shown.os_glance_import_task;
    }, 'the copy to RBD', 30_000);
    assert.deepEqual(shown.locations[1], { url: `rbd://${cephFsid()}/${CEPH_POOL}/${image.id}/snap`, metadata: { store: 'ceph' } });
    assert.equal(detail[1].properties.fsid, cephFsid(), 'the fsid shows once the store has connected');
    const exported = path.join(mkdtempSync(path.join(tmpdir(), 'glimpse-rbd-')), 'export');
    rbd('export', '--no-progress', `${CEPH_POOL}/${image.id}@snap`, exported);
    assert.equal(md5(readFileSync(exported)), md5(bytes));
    rmSync(path.dirname(exported), { recursive: true });
    assert.equal((await api.delete(`/v2/images/${image.id}`)).status, 204);
    assert.ok(!rbdImages().includes(image.id));
  });
});

describe('crash safety on RBD', { skip }, () => {
  const processes: ServerProcess[] = [];
  const dataDir = mkdtempSync(path.join(tmpdir(), 'glimpse-crash-rbd-'));
  const config = path.join(dataDir, 'glance-api.conf');
  writeFileSync(config, ['[glimpse]', 'write_stale_seconds = 1', 'recovery_interval_seconds = 1', '[glance_store]', 'default_store = rbd', ...rbdStoreIni('glance_store').slice(1)].join('\n'));
  after(async () => {
    for (const p of processes) await stopProcess(p, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('removes the RBD image of a writer killed mid-upload once its watch expires, and puts the image back to queued', { timeout: 120_000 }, async () => {
    // The OSD drops a dead client's watch after osd_client_watch_timeout (30 s).
    const watchTimeout = 30;
    const serve = async () => {
      const started = await serveProcess(['--data-dir', dataDir, '--bind', '127.0.0.1:0', '--config', config]);
      processes.push(started);
      return started;
    };
    const writer = await serve();
    const api = new Client(writer.url);
    const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    const upload = slowUpload(`${writer.url}/v2/images/${image.id}/file`);
    await upload.write(randomBytes(10 * MiB));
    await waitFor(async () => rbdImages().includes(image.id), 'the RBD image being written');

    // Another node: the image has been `saving` for longer than write_stale_seconds, but its writer holds a watch.
    const db = new SQLite(path.join(dataDir, 'glimpse.sqlite'));
    db.prepare("UPDATE images SET updated_at = strftime('%Y-%m-%d %H:%M:%f000', 'now', '-5 minutes') WHERE id = ?").run(image.id);
    db.close();
    const other = await serve();
    const peer = new Client(other.url);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await peer.get(`/v2/images/${image.id}`)).json.status, 'saving', 'a live writer keeps its image');
    assert.ok(rbdImages().includes(image.id));

    await stopProcess(writer, 'SIGKILL');
    upload.cut();
    await waitFor(async () => (await peer.get(`/v2/images/${image.id}`)).json.status === 'queued', 'recovery to requeue the image', (watchTimeout + 30) * 1000);
    assert.ok(!rbdImages().includes(image.id), 'no orphan RBD image is left');
    const data = randomBytes(100_000);
    assert.equal((await peer.upload(image.id, data)).status, 204);
    assert.ok(Buffer.from(await (await fetch(`${other.url}/v2/images/${image.id}/file`)).arrayBuffer()).equals(data));
    await peer.delete(`/v2/images/${image.id}`);
  });

  it('finishes a delete that died between the record and the data, even half way through the RBD image\'s removal', async () => {
    const server = await serveProcess(['--data-dir', dataDir, '--bind', '127.0.0.1:0', '--config', config]);
    processes.push(server);
    const api = new Client(server.url);
    const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    assert.equal((await api.upload(image.id, randomBytes(MiB))).status, 204);
    // The process died after marking the image deleted and after unprotecting the snapshot, before removing anything.
    rbd('snap', 'unprotect', `${CEPH_POOL}/${image.id}@snap`);
    const db = new SQLite(path.join(dataDir, 'glimpse.sqlite'));
    db.prepare("UPDATE images SET status = 'deleted', deleted = 1 WHERE id = ?").run(image.id);
    db.prepare("UPDATE image_locations SET status = 'deleted', deleted = 1 WHERE image_id = ?").run(image.id);
    db.close();
    await waitFor(async () => !rbdImages().includes(image.id), 'the recovery sweep to remove the RBD image', 15_000);
  });
});
