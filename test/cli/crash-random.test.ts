/**
 * Crashes at random points: a server process doing uploads, stagings and
 * imports at once is killed with SIGKILL after a random delay (seeded:
 * GLIMPSE_CRASH_SEED), restarted, and the store and database must then agree:
 * nothing stuck in `saving` or `importing`, no partial file, no data without
 * an active image, no active image without its complete data. The delays
 * cover the end of the writes, where the final rename and the status change
 * happen, so the window between them is crossed too.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Client } from '../helpers/client.js';
import { serveProcess, stopProcess } from '../helpers/process.js';
import { sleep, waitFor } from '../helpers/upload.js';

const SEED = Number(process.env.GLIMPSE_CRASH_SEED ?? 16);
const ROUNDS = Number(process.env.GLIMPSE_CRASH_ROUNDS ?? 4);
const READY = { disk_format: 'raw', container_format: 'bare' };

function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe(`crashes at random points (seed ${SEED}, ${ROUNDS} rounds)`, () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'glimpse-crash-random-'));
  const config = path.join(dataDir, 'glance-api.conf');
  writeFileSync(config, '[glimpse]\nrecovery_interval_seconds = 1\nwrite_stale_seconds = 1\ntask_heartbeat_seconds = 1\n');
  const serve = () => serveProcess(['--data-dir', dataDir, '--bind', '127.0.0.1:0', '--config', config]);
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('leaves nothing stuck, partial or orphaned after each kill -9', async () => {
    const random = prng(SEED);
    for (let round = 0; round < ROUNDS; round++) {
      const server = await serve();
      const api = new Client(server.url);
      const work: Promise<unknown>[] = [];
      for (let i = 0; i < 6; i++) {
        const size = Math.floor(256 * 1024 + random() * 3 * 1024 * 1024);
        const data = Buffer.alloc(size, (round * 16 + i) % 251);
        const image = await api.createImage(READY);
        if (i % 3 === 0) {
          work.push(api.upload(image.id, data).catch(() => undefined));
        } else {
          work.push(
            api
              .request('PUT', `/v2/images/${image.id}/stage`, { raw: data, headers: { 'content-type': 'application/octet-stream' } })
              .then((r) => (r.status === 204 && i % 3 === 1 ? api.post(`/v2/images/${image.id}/import`, { method: { name: 'glance-direct' } }) : r))
              .catch(() => undefined),
          );
        }
      }
      await sleep(Math.floor(random() * 400));
      await stopProcess(server, 'SIGKILL');
      await Promise.allSettled(work);

      const next = await serve();
      try {
        const again = new Client(next.url);
        // Recovery runs at start-up and then every second; imports are taken over after three missed beats.
        // A write that died before its first byte is judged only once write_stale_seconds have passed.
        await waitFor(
          async () => {
            const images = (await again.get('/v2/images?limit=1000')).json.images as { id: string; status: string }[];
            const staged = existsSync(path.join(dataDir, 'staging')) ? readdirSync(path.join(dataDir, 'staging')) : [];
            return images.every((i) => i.status !== 'saving' && i.status !== 'importing' && (i.status !== 'uploading' || staged.includes(i.id)));
          },
          'no image left saving, importing, or uploading with nothing staged',
          30_000,
        );
        await checkConsistency(again, dataDir, round);
      } finally {
        await stopProcess(next);
      }
    }
  });
});

async function checkConsistency(api: Client, dataDir: string, round: number) {
  const images = (await api.get('/v2/images?limit=1000')).json.images as { id: string; status: string; size: number; checksum: string }[];
  const byId = new Map(images.map((i) => [i.id, i]));
  const stored = readdirSync(path.join(dataDir, 'images'));
  assert.deepEqual(stored.filter((n) => n.startsWith('.')), [], `round ${round}: partial files left`);
  for (const name of stored) {
    assert.equal(byId.get(name)?.status, 'active', `round ${round}: data of ${name} kept for an image that is ${byId.get(name)?.status ?? 'gone'}`);
  }
  for (const image of images.filter((i) => i.status === 'active')) {
    const file = path.join(dataDir, 'images', image.id);
    assert.ok(existsSync(file), `round ${round}: active image ${image.id} has no data`);
    assert.equal(statSync(file).size, image.size, `round ${round}: ${image.id} is partial`);
    assert.equal(createHash('md5').update(readFileSync(file)).digest('hex'), image.checksum, `round ${round}: ${image.id} differs from its checksum`);
  }
  const staging = existsSync(path.join(dataDir, 'staging')) ? readdirSync(path.join(dataDir, 'staging')) : [];
  assert.deepEqual(staging.filter((n) => n.startsWith('.')), [], `round ${round}: partial staged files left`);
  for (const name of staging) assert.equal(byId.get(name)?.status, 'uploading', `round ${round}: staged data of an image that is ${byId.get(name)?.status}`);
  for (const image of images.filter((i) => i.status === 'uploading')) {
    assert.ok(staging.includes(image.id), `round ${round}: ${image.id} is uploading with nothing staged`);
  }
}
