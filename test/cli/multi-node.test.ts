/**
 * Several API nodes as one service: two real server processes on one
 * database and one store directory. Status changes are compare-and-sets and
 * property/tag changes are written key by key, so concurrent writers neither
 * double-upload nor lose each other's updates.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '../helpers/client.js';
import { type TestDatabase, createTestDatabase } from '../helpers/databases.js';
import { type ServerProcess, serveProcess, stopProcess } from '../helpers/process.js';
import { postgresSkip } from '../helpers/tools.js';
import { slowUpload, waitFor } from '../helpers/upload.js';

type Node = ServerProcess;
const startNode = (dataDir: string, database: string) => serveProcess(['--data-dir', dataDir, '--database', database, '--bind', '127.0.0.1:0']);
const stop = stopProcess;

const SKIPS = { sqlite: false as const, postgres: postgresSkip() };

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`two nodes on one ${dialect} database`, { skip: SKIPS[dialect] }, () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'glimpse-nodes-'));
    let database: TestDatabase | null = null;
    let url: string;
    let a: Node;
    let b: Node;

    before(async () => {
      if (dialect === 'postgres') {
        database = await createTestDatabase('postgres');
        url = database!.url;
      } else {
        url = `sqlite:///${path.join(dataDir, 'shared.sqlite')}`;
        // The first node creates the embedded database; the second then joins it.
      }
      a = await startNode(dataDir, url);
      b = await startNode(dataDir, url);
    });
    after(async () => {
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
