/**
 * A node's image cache from the command line: `glimpse cache …` (list in
 * each format, queue --wait, delete, clear, clean, prune) and glanceclient's
 * own `glance cache-*` commands, against a real server with a cache.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '../helpers/client.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { REPO_ROOT, requireTool } from '../helpers/tools.js';
import { waitFor } from '../helpers/upload.js';

const skip = requireTool('glanceclient', () => existsSync('/usr/bin/glance'), 'apt-get install python3-glanceclient');

describe('image cache commands', { skip }, () => {
  const cacheDir = mkdtempSync(path.join(tmpdir(), 'glimpse-cache-cli-'));
  let server: TestServer;
  let api: Client;
  const run = (command: string, args: string[]) =>
    new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      // A new HOME each time: glanceclient caches the image schema there, and a cached schema with `stores`
      // clashes with its own --stores option on the next run (a glanceclient bug, with Glance's schema too).
      const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OS_'))), HOME: mkdtempSync(path.join(server.dataDir, 'home-')) };
      const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => (code === 0 ? resolve({ stdout, stderr }) : reject(new Error(`${command} ${args.join(' ')} failed (${code}): ${stderr}`))));
    });
  const glimpse = (...args: string[]) => run(process.execPath, [path.join(REPO_ROOT, 'bin', 'glimpse'), 'cache', ...args, '--os-auth-type', 'none', '--os-endpoint', server.url]);
  const glance = (...args: string[]) => run('/usr/bin/glance', ['--os-image-url', server.url, '--os-auth-token', 'unused', ...args]);
  const image = async () => {
    const created = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    await api.upload(created.id, randomBytes(300_000));
    return created.id as string;
  };

  before(async () => {
    server = await startTestServer({ ini: `[DEFAULT]\nimage_cache_dir = ${cacheDir}\ncache_prefetcher_interval = 3600\n` });
    api = new Client(server.url);
  });
  after(async () => {
    await server?.close();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('queues and waits for the prefetch, then lists, prunes, deletes and clears', async () => {
    const [a, b] = [await image(), await image()];
    const queued = await glimpse('queue', '--wait', a, b);
    assert.match(queued.stderr, /prefetch: 2\/2 cached/);
    const listed = JSON.parse((await glimpse('list', '-f', 'json')).stdout) as Record<string, unknown>[];
    assert.deepEqual(listed.map((r) => r.ID).sort(), [a, b].sort());
    assert.ok(listed.every((r) => r.State === 'cached' && r.Size === 300_000 && r.Hits === 0));
    assert.match(String(listed[0]['Last Accessed (UTC)']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    assert.match((await glimpse('list')).stdout, /\| ID +\| State +\| Last Accessed \(UTC\)/);
    assert.deepEqual(JSON.parse((await glimpse('prune', '-f', 'json')).stdout), { total_files_pruned: 0, total_bytes_pruned: 0 });
    await glimpse('delete', a);
    assert.deepEqual(JSON.parse((await glimpse('list', '-f', 'json')).stdout).map((r: { ID: string }) => r.ID), [b]);
    await glimpse('clean');
    await glimpse('clear', '--target', 'cache');
    assert.deepEqual(JSON.parse((await glimpse('list', '-f', 'json')).stdout), []);
    await assert.rejects(glimpse('clear', '--target', 'all'), /--target is one of both, cache, queue/);
  });

  it('serves glanceclient\'s cache-queue, cache-list, cache-delete and cache-clear', async () => {
    const id = await image();
    await glance('cache-queue', id);
    await waitFor(async () => (await api.get('/v2/cache')).json.cached_images.some((c: { image_id: string }) => c.image_id === id), 'the prefetch');
    const table = (await glance('cache-list')).stdout;
    assert.match(table, new RegExp(`\\| ${id} \\| cached`));
    await glance('cache-delete', id);
    assert.doesNotMatch((await glance('cache-list')).stdout, new RegExp(id));
    await glance('cache-clear', '--target', 'both');
    assert.deepEqual((await api.get('/v2/cache')).json, { cached_images: [], queued_images: [] });
  });
});
