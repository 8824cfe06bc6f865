/**
 * Crash safety: a server killed with SIGKILL mid-upload never leaves partial
 * data as an image; the next start puts the image back to `queued` and
 * removes the partial file, and removes staged data of deleted images.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { Client } from '../helpers/client.js';
import { serveProcess, stopProcess } from '../helpers/process.js';
import { slowUpload, waitFor } from '../helpers/upload.js';

const serve = (dataDir: string) => serveProcess(['--data-dir', dataDir, '--bind', '127.0.0.1:0']);

describe('crash safety', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'glimpse-crash-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('recovers from kill -9 during an upload and during staging', async () => {
    const first = await serve(dataDir);
    const api = new Client(first.url);
    const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    const staged = await api.createImage({});
    const upload = slowUpload(`${first.url}/v2/images/${image.id}/file`);
    const stage = slowUpload(`${first.url}/v2/images/${staged.id}/stage`);
    await upload.write(Buffer.alloc(256 * 1024, 7));
    await stage.write(Buffer.alloc(64 * 1024, 9));
    await waitFor(async () => (await api.get(`/v2/images/${image.id}`)).json.status === 'saving', 'saving');
    await waitFor(async () => (await api.get(`/v2/images/${staged.id}`)).json.status === 'uploading', 'uploading');
    await waitFor(async () => readdirSync(path.join(dataDir, 'images')).some((n) => n.includes(image.id)), 'partial file');
    await waitFor(async () => readdirSync(path.join(dataDir, 'staging')).some((n) => n.includes(staged.id)), 'partial staged file');

    await stopProcess(first, 'SIGKILL');
    upload.cut();
    stage.cut();
    assert.ok(readdirSync(path.join(dataDir, 'images')).some((n) => n.includes('.partial-')), 'the dead writer left its partial file');

    // A staged file of an image that no longer exists, as a crash could leave.
    mkdirSync(path.join(dataDir, 'staging'), { recursive: true });
    writeFileSync(path.join(dataDir, 'staging', '0a1b2c3d-0000-4000-8000-000000000000'), 'orphan');

    const second = await serve(dataDir);
    try {
      const again = new Client(second.url);
      const shown = (await again.get(`/v2/images/${image.id}`)).json;
      assert.equal(shown.status, 'queued');
      assert.equal(shown.size, null);
      assert.equal(shown.checksum, null);
      assert.equal((await again.get(`/v2/images/${staged.id}`)).json.status, 'queued');
      assert.deepEqual(readdirSync(path.join(dataDir, 'images')), []);
      assert.deepEqual(readdirSync(path.join(dataDir, 'staging')), []);
      assert.equal((await again.upload(image.id, 'second try')).status, 204);
      assert.equal((await again.get(`/v2/images/${image.id}/file`)).text, 'second try');
    } finally {
      await stopProcess(second);
    }
  });

  it('requeues images a process abandoned before writing a byte, but not staged ones', async () => {
    const first = await serve(dataDir);
    const api = new Client(first.url);
    const saving = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    const uploading = await api.createImage({});
    const staged = await api.createImage({});
    assert.equal((await api.request('PUT', `/v2/images/${staged.id}/stage`, { raw: 'kept', headers: { 'content-type': 'application/octet-stream' } })).status, 204);
    await stopProcess(first, 'SIGKILL');
    // What a process killed right after its status change leaves: the status, and no file at all.
    const db = new SQLite(path.join(dataDir, 'glimpse.sqlite'));
    const old = "strftime('%Y-%m-%d %H:%M:%f000', 'now', '-5 minutes')";
    db.prepare(`UPDATE images SET status = 'saving', updated_at = ${old} WHERE id = ?`).run(saving.id);
    db.prepare(`UPDATE images SET status = 'uploading', updated_at = ${old} WHERE id = ?`).run(uploading.id);
    db.prepare(`UPDATE images SET updated_at = ${old} WHERE id = ?`).run(staged.id);
    db.close();
    const second = await serve(dataDir);
    try {
      const again = new Client(second.url);
      assert.equal((await again.get(`/v2/images/${saving.id}`)).json.status, 'queued');
      assert.equal((await again.get(`/v2/images/${uploading.id}`)).json.status, 'queued');
      assert.equal((await again.get(`/v2/images/${staged.id}`)).json.status, 'uploading', 'staged data waiting for its import is left alone');
    } finally {
      await stopProcess(second);
    }
  });

  it('resumes a web-download import whose server was killed, from its source, to the same result', async () => {
    const importDir = mkdtempSync(path.join(tmpdir(), 'glimpse-crash-import-'));
    const payload = randomBytes(3 * 1024 * 1024);
    let slow = true;
    // The first fetch dribbles (and is cut by the kill); the retry gets everything at once.
    const origin = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-length': payload.length });
      if (!slow) return void res.end(payload);
      res.write(payload.subarray(0, 256 * 1024));
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    const port = (origin.address() as AddressInfo).port;
    const conf = path.join(importDir, 'glance-api.conf');
    writeFileSync(conf, `[import_filtering_opts]\nallowed_hosts = 127.0.0.1\nallowed_ports = ${port}\n[glimpse]\ntask_heartbeat_seconds = 1\n`);
    const start = () => serveProcess(['--data-dir', importDir, '--bind', '127.0.0.1:0', '--config', conf]);
    const first = await start();
    try {
      const api = new Client(first.url);
      const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
      const res = await api.post(`/v2/images/${image.id}/import`, { method: { name: 'web-download', uri: `http://127.0.0.1:${port}/disk.raw` } });
      assert.equal(res.status, 202);
      // web-download stages the URL's data first, as Glance does.
      const staging = path.join(importDir, 'staging');
      await waitFor(async () => existsSync(staging) && readdirSync(staging).some((n) => n.includes(image.id)), 'the import downloading');
      await stopProcess(first, 'SIGKILL');
      slow = false;

      const second = await start();
      try {
        const again = new Client(second.url);
        await waitFor(async () => (await again.get(`/v2/images/${image.id}`)).json.status === 'active', 'the resumed import', 20_000);
        const shown = (await again.get(`/v2/images/${image.id}`)).json;
        assert.equal(shown.size, payload.length);
        assert.equal(shown.checksum, createHash('md5').update(payload).digest('hex'));
        const tasks = (await again.get(`/v2/images/${image.id}/tasks`)).json.tasks;
        assert.deepEqual(tasks.map((t: { status: string }) => t.status), ['success'], 'one task, taken over and finished');
        for (const dir of ['images', 'staging']) {
          assert.deepEqual(readdirSync(path.join(importDir, dir)).filter((n) => n.includes(image.id) && n !== image.id), [], `no partial file left in ${dir}`);
        }
        assert.deepEqual(readdirSync(path.join(importDir, 'staging')), [], 'nothing left staged');
      } finally {
        await stopProcess(second);
      }
    } finally {
      await stopProcess(first, 'SIGKILL'); // already dead when all went well; never left running when not
      origin.closeAllConnections();
      origin.close();
      rmSync(importDir, { recursive: true, force: true });
    }
  });
});
