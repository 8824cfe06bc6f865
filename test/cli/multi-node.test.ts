/**
 * Several API nodes as one service: two real server processes on one
 * database and one store directory. Status changes are compare-and-sets and
 * property/tag changes are written key by key, so concurrent writers neither
 * double-upload nor lose each other's updates.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '../helpers/client.js';
import { type TestDatabase, createTestDatabase } from '../helpers/databases.js';
import { type ServerProcess, serveProcess, stopProcess } from '../helpers/process.js';
import { mysqlSkip, postgresSkip } from '../helpers/tools.js';
import { sleep, slowUpload, waitFor } from '../helpers/upload.js';

type Node = ServerProcess;
const startNode = (dataDir: string, database: string) =>
  serveProcess(['--data-dir', dataDir, '--database', database, '--bind', '127.0.0.1:0', '--config', path.join(dataDir, 'glance-api.conf')]);
const stop = stopProcess;

const SKIPS = { sqlite: false as const, postgres: postgresSkip(), mysql: mysqlSkip() };
const CONFIG = '[DEFAULT]\nimage_property_quota = 24\nimage_tag_quota = 16\nimage_member_quota = 8\n[glimpse_limits]\nimage_count_total = 1000\n';

/** A source for web-download imports on loopback (allowed by the config above). */
function imageSource(): Promise<{ url: string; close(): void }> {
  const server = http.createServer((_req, res) => res.end(Buffer.alloc(64 * 1024, 9)));
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({ url: `http://127.0.0.1:${port}/disk.raw`, close: () => server.close() });
    }),
  );
}

for (const dialect of ['sqlite', 'postgres', 'mysql'] as const) {
  describe(`two nodes on one ${dialect} database`, { skip: SKIPS[dialect] }, () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'glimpse-nodes-'));
    let database: TestDatabase | null = null;
    let url: string;
    let a: Node;
    let b: Node;

    let source: { url: string; close(): void };

    before(async () => {
      source = await imageSource();
      const port = new URL(source.url).port;
      writeFileSync(
        path.join(dataDir, 'glance-api.conf'),
        `${CONFIG}[import_filtering_opts]\nallowed_hosts = 127.0.0.1\nallowed_ports = ${port}\n`,
      );
      if (dialect !== 'sqlite') {
        database = await createTestDatabase(dialect);
        url = database!.url;
      } else {
        url = `sqlite:///${path.join(dataDir, 'shared.sqlite')}`;
        // The first node creates the embedded database; the second then joins it.
      }
      a = await startNode(dataDir, url);
      b = await startNode(dataDir, url);
    });
    after(async () => {
      source?.close();
      await Promise.all([a && stop(a), b && stop(b)]);
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('lets exactly one of many concurrent uploads through either node win', async () => {
      const image = await new Client(a.url).createImage({ disk_format: 'raw', container_format: 'bare' });
      const uploads = Array.from({ length: 8 }, (_, i) => new Client(i % 2 ? a.url : b.url).upload(image.id, Buffer.alloc(200_000, i)));
      const codes = (await Promise.all(uploads)).map((r) => r.status).sort();
      assert.deepEqual(codes, [204, 409, 409, 409, 409, 409, 409, 409]);
      const shown = (await new Client(b.url).get(`/v2/images/${image.id}`)).json;
      assert.equal(shown.status, 'active');
      assert.equal(shown.size, 200_000);
    });

    it('loses no property or tag when both nodes patch one image at once', async () => {
      const image = await new Client(a.url).createImage({});
      const patches = Array.from({ length: 20 }, (_, i) =>
        new Client(i % 2 ? a.url : b.url).patch(`/v2/images/${image.id}`, [{ op: 'add', path: `/key_${i}`, value: `v${i}` }]),
      );
      const tags = Array.from({ length: 10 }, (_, i) => new Client(i % 2 ? b.url : a.url).put(`/v2/images/${image.id}/tags/t${i}`));
      const results = await Promise.all([...patches, ...tags]);
      assert.ok(results.every((r) => r.status === 200 || r.status === 204), results.map((r) => r.status).join(','));
      const shown = (await new Client(a.url).get(`/v2/images/${image.id}`)).json;
      for (let i = 0; i < 20; i++) assert.equal(shown[`key_${i}`], `v${i}`, `key_${i}`);
      assert.equal(shown.tags.length, 10);
    });

    const either = (i: number) => new Client(i % 2 ? a.url : b.url);

    it('adds a member once when both nodes are sent it at once, and revokes it everywhere', async () => {
      for (let round = 0; round < 5; round++) {
        const image = await either(round).createImage({ visibility: 'shared' });
        const adds = await Promise.all(Array.from({ length: 10 }, (_, i) => either(i).post(`/v2/images/${image.id}/members`, { member: 'p' })));
        assert.equal(adds.filter((r) => r.status === 200).length, 1, adds.map((r) => r.status).join(','));
        assert.equal((await either(round + 1).delete(`/v2/images/${image.id}/members/p`)).status, 204);
        for (const node of [a, b]) {
          assert.equal((await new Client(node.url).get(`/v2/images/${image.id}/members/p`)).status, 404);
          assert.deepEqual((await new Client(node.url).get(`/v2/images/${image.id}/members`)).json.members, []);
        }
      }
    });

    it('holds the property, tag and member quotas across both nodes', async () => {
      const image = await either(0).createImage({ visibility: 'shared' });
      await Promise.all([
        ...Array.from({ length: 40 }, (_, i) => either(i).patch(`/v2/images/${image.id}`, [{ op: 'add', path: `/q_${i}`, value: 'v' }])),
        ...Array.from({ length: 40 }, (_, i) => either(i + 1).put(`/v2/images/${image.id}/tags/t${i}`)),
        ...Array.from({ length: 20 }, (_, i) => either(i).post(`/v2/images/${image.id}/members`, { member: `m${i}` })),
      ]);
      const shown = (await either(1).get(`/v2/images/${image.id}`)).json;
      assert.equal(Object.keys(shown).filter((k) => k.startsWith('q_')).length, 24);
      assert.equal(shown.tags.length, 16);
      assert.equal((await either(0).get(`/v2/images/${image.id}/members`)).json.members.length, 8);
    });

    it('never leaves the data of an image deleted on one node while the other received its upload', async () => {
      // The race is narrow (the delete must read the image just before the upload commits): the delete's
      // start sweeps across the upload's duration, round after round.
      for (let round = 0; round < 60; round++) {
        const image = await either(round).createImage({ disk_format: 'raw', container_format: 'bare' });
        const [upload, removal] = await Promise.all([
          either(round).upload(image.id, Buffer.alloc(100_000, round)),
          sleep(round % 15).then(() => either(round + 1).delete(`/v2/images/${image.id}`)),
        ]);
        assert.equal(removal.status, 204);
        assert.ok([204, 404, 409, 410].includes(upload.status), `${upload.status} ${upload.text}`);
        assert.equal(existsSync(path.join(dataDir, 'images', image.id)), false, `round ${round}: data left after upload ${upload.status}`);
      }
    });

    it('lets one of two imports sent to both nodes at once take the image', async () => {
      const image = await either(0).createImage({ disk_format: 'raw', container_format: 'bare' });
      const body = { method: { name: 'web-download', uri: source.url } };
      const starts = await Promise.all([a, b].map((n) => new Client(n.url).post(`/v2/images/${image.id}/import`, body)));
      assert.deepEqual(starts.map((r) => r.status).sort(), [202, 409], starts.map((r) => r.text).join('\n'));
      await waitFor(async () => (await either(1).get(`/v2/images/${image.id}`)).json.status === 'active', 'the import to finish', 30_000);
      const tasks = (await either(0).get(`/v2/images/${image.id}/tasks`)).json.tasks;
      assert.deepEqual(tasks.map((t: { status: string }) => t.status).sort(), ['failure', 'success'].slice(tasks.length === 1 ? 1 : 0));
      assert.equal((await either(1).get(`/v2/images/${image.id}`)).json.size, 64 * 1024);
    });

    it('keeps one node\'s upload going while the other node restarts', async () => {
      const image = await new Client(a.url).createImage({ disk_format: 'raw', container_format: 'bare' });
      const upload = slowUpload(`${a.url}/v2/images/${image.id}/file`);
      await upload.write(Buffer.alloc(100_000, 1));
      await waitFor(async () => (await new Client(a.url).get(`/v2/images/${image.id}`)).json.status === 'saving', 'saving');
      await stop(b, 'SIGKILL');
      b = await startNode(dataDir, url);
      assert.equal((await new Client(b.url).get(`/v2/images/${image.id}`)).json.status, 'saving', 'the restarted node left the live upload alone');
      await upload.write(Buffer.alloc(100_000, 2));
      assert.equal(await upload.finish(), 204);
      const shown = (await new Client(b.url).get(`/v2/images/${image.id}`)).json;
      assert.equal(shown.status, 'active');
      assert.equal(shown.size, 200_000);
    });
  });
}
