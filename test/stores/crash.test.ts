/**
 * Crash safety on the object stores (real Swift, native and S3 API): a writer
 * keeps a lease object fresh while it uploads; a node starting while the
 * writer lives leaves the image alone, and once the writer is killed with
 * SIGKILL and its lease has gone stale, the next start removes what it left
 * (SLO segments, multipart uploads) and puts the image back to `queued`.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { Client } from '../helpers/client.js';
import { type ServerProcess, serveProcess, stopProcess } from '../helpers/process.js';
import { objectNames as listNames, s3StoreIni, swiftSkip, swiftStoreIni } from '../helpers/swift.js';
import { sleep, slowUpload, waitFor } from '../helpers/upload.js';

const HEARTBEAT_SECONDS = 1;

/** Names in a container that may not exist yet. */
const objectNames = (container: string, prefix: string) => listNames(container, prefix).catch(() => [] as string[]);

const STORES = { swift: swiftStoreIni, s3: s3StoreIni };

describe('crash safety on object stores', { skip: swiftSkip() }, () => {
  const dirs: string[] = [];
  const processes: ServerProcess[] = [];
  after(async () => {
    for (const p of processes) await stopProcess(p, 'SIGKILL');
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  for (const kind of ['swift', 's3'] as const) {
    it(`${kind}: a live writer's upload is left alone; a killed one's is cleaned up and the image requeued`, async () => {
      const dataDir = mkdtempSync(path.join(tmpdir(), `glimpse-crash-${kind}-`));
      dirs.push(dataDir);
      const container = `glimpse-crash-${randomUUID().slice(0, 8)}`;
      const config = path.join(dataDir, 'glance-api.conf');
      writeFileSync(config, `[glimpse]\ntask_heartbeat_seconds = ${HEARTBEAT_SECONDS}\n${STORES[kind](container)}\n`);
      const serve = async () => {
        const started = await serveProcess(['--data-dir', dataDir, '--bind', '127.0.0.1:0', '--config', config]);
        processes.push(started);
        return started;
      };
      // What is stored under the image's name: objects, and for S3 the parts of unfinished multipart uploads (s3api keeps them in `<bucket>+segments`).
      const leftovers = async (id: string) => [...(await objectNames(container, id)), ...(kind === 's3' ? await objectNames(`${container}+segments`, id) : [])];

      const writer = await serve();
      const api = new Client(writer.url);
      const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
      const upload = slowUpload(`${writer.url}/v2/images/${image.id}/file`);
      // More than one segment (Swift) or part (S3) on its way, and the rest never sent.
      await upload.write(randomBytes(kind === 'swift' ? 2_500_000 : 11 * 1024 * 1024));
      await waitFor(async () => (await objectNames(container, `${image.id}.writing`)).length === 1, 'the writer\'s lease');
      if (kind === 'swift') await waitFor(async () => (await objectNames(container, `${image.id}-`)).length >= 2, 'segments');

      // Another node starting now: the image has been `saving` for long, but its writer is alive.
      const db = new SQLite(path.join(dataDir, 'glimpse.sqlite'));
      const aged = () => db.prepare("UPDATE images SET updated_at = strftime('%Y-%m-%d %H:%M:%f000', 'now', '-5 minutes') WHERE id = ?").run(image.id);
      aged();
      const other = await serve();
      assert.equal((await new Client(other.url).get(`/v2/images/${image.id}`)).json.status, 'saving', 'a live writer keeps its image');
      await stopProcess(other);

      await stopProcess(writer, 'SIGKILL');
      upload.cut();
      const left = await leftovers(image.id);
      assert.ok(left.some((n) => n !== `${image.id}.writing`), `the dead writer left data behind: ${left.join(', ')}`);
      await sleep(HEARTBEAT_SECONDS * 3 * 1000 + 1500); // the lease goes stale (Last-Modified has whole seconds)
      aged();
      db.close();

      const next = await serve();
      try {
        const again = new Client(next.url);
        const shown = (await again.get(`/v2/images/${image.id}`)).json;
        assert.equal(shown.status, 'queued');
        assert.deepEqual(await leftovers(image.id), [], 'segments or parts, object and lease are gone');
        const data = randomBytes(100_000);
        assert.equal((await again.upload(image.id, data)).status, 204);
        const download = await fetch(`${next.url}/v2/images/${image.id}/file`);
        assert.ok(Buffer.from(await download.arrayBuffer()).equals(data));
      } finally {
        await stopProcess(next);
      }
    });
  }
});
