/**
 * `[DEFAULT] workers`: N processes serving one port. A mixed read/write load
 * loses nothing on SQLite and PostgreSQL; a worker killed is replaced while
 * the port keeps answering; the node's cache prefetch runs once, in one
 * worker, whichever worker took the queue request.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Client } from '../helpers/client.js';
import { type TestDatabase, createTestDatabase } from '../helpers/databases.js';
import { type ServerProcess, serveProcess, stopProcess } from '../helpers/process.js';
import { postgresSkip } from '../helpers/tools.js';
import { waitFor } from '../helpers/upload.js';

/** The primary's live children: its workers. */
function workerPids(primary: number): number[] {
  const out = spawnSync('pgrep', ['-P', String(primary)], { encoding: 'utf8' }).stdout.trim();
  return out ? out.split('\n').map(Number) : [];
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`two workers on ${dialect}`, { skip: dialect === 'postgres' ? postgresSkip() : false }, () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'glimpse-workers-'));
    let database: TestDatabase | null = null;
    let server: ServerProcess;
    after(async () => {
      if (server) await stopProcess(server);
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('serves one port from two processes, loses no write under load, and replaces a killed worker', async () => {
      database = dialect === 'postgres' ? await createTestDatabase('postgres') : null;
      const config = path.join(dataDir, 'glance-api.conf');
      writeFileSync(config, `[DEFAULT]\nimage_cache_dir = ${path.join(dataDir, 'cache')}\ncache_prefetcher_interval = 3600\n`);
      server = await serveProcess(['--workers', '2', '--data-dir', dataDir, '--bind', '127.0.0.1:0', '--config', config, ...(database ? ['--database', database.url] : [])]);
      const primary = server.child.pid!;
      await waitFor(async () => workerPids(primary).length === 2, 'two workers');
      const api = new Client(server.url);

      // Mixed reads and writes from many connections at once, spread over both workers.
      const created = await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const image = await api.createImage({ name: `w-${i}`, disk_format: 'raw', container_format: 'bare' });
          assert.equal((await api.put(`/v2/images/${image.id}/tags/t${i}`)).status, 204);
          assert.equal((await api.get(`/v2/images/${image.id}`)).json.tags[0], `t${i}`);
          return image.id as string;
        }),
      );
      const listed = (await api.get('/v2/images?limit=1000')).json.images as { id: string; tags: string[] }[];
      for (const [i, id] of created.entries()) assert.deepEqual(listed.find((l) => l.id === id)?.tags, [`t${i}`]);

      // The cache's prefetch runs in one worker only, whichever took the request.
      const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
      await api.upload(image.id, randomBytes(100_000));
      for (let i = 0; i < 4; i++) await api.put(`/v2/cache/${image.id}`);
      const prefetches = () => server.log().split('prefetched an image into the cache').length - 1;
      // The record shows before the prefetcher's log line: wait for the line, then for any second one.
      await waitFor(async () => (await api.get('/v2/cache')).json.cached_images.length === 1 && prefetches() >= 1, 'the prefetch', 15_000);
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(prefetches(), 1, 'fetched once');

      const [victim] = workerPids(primary);
      process.kill(victim, 'SIGKILL');
      await waitFor(async () => {
        const pids = workerPids(primary);
        return pids.length === 2 && !pids.includes(victim);
      }, 'a replacement worker', 20_000);
      // The replacement listens on the same port, even though it was chosen at random (bind 127.0.0.1:0).
      await waitFor(async () => (server.log().match(/"msg":"glimpse is serving"/g) ?? []).length === 3, 'the replacement serving');
      assert.equal(new Set([...server.log().matchAll(/"url":"(http:[^"]+)"/g)].map((m) => m[1])).size, 1, 'one URL for every worker');
      for (let i = 0; i < 10; i++) assert.equal((await api.get('/v2/images?limit=1')).status, 200);
    });
  });
}
