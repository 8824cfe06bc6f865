/**
 * Slow and stalled clients against a real server process: uploads that
 * announce gigabytes and then send nothing are cut after the body idle
 * timeout, their images go back to `queued`, beyond max_concurrent_uploads
 * they are refused up front, and the memory and threads they held return
 * (read from /proc, as an operator would see them).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Client } from '../helpers/client.js';
import { serveProcess, stopProcess } from '../helpers/process.js';
import { sleep, waitFor } from '../helpers/upload.js';

function procStatus(pid: number): { rssMiB: number; threads: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)![1]);
  return { rssMiB: field('VmRSS') / 1024, threads: field('Threads') };
}

describe('stalled uploads against a server process', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'glimpse-slow-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('cuts 32 uploads that announce 5 GiB and send one byte, and gives their memory and threads back', async () => {
    const config = path.join(dataDir, 'glance-api.conf');
    writeFileSync(config, '[glimpse]\nbody_idle_timeout = 2\nmax_concurrent_uploads = 16\n');
    const server = await serveProcess(['--data-dir', dataDir, '--bind', '127.0.0.1:0', '--config', config]);
    try {
      const api = new Client(server.url);
      const pid = server.child.pid!;
      const images = await Promise.all(Array.from({ length: 32 }, () => api.createImage({ disk_format: 'raw', container_format: 'bare' })));
      // One ordinary upload first, so the baseline includes what any upload loads once.
      const warm = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
      await api.upload(warm.id, Buffer.alloc(1024 * 1024, 1));
      await sleep(500);
      const baseline = procStatus(pid);

      const { port, hostname } = new URL(server.url);
      const answers: string[] = [];
      const sockets = images.map((image) => {
        const socket = net.connect(Number(port), hostname);
        socket.on('data', (d) => answers.push(d.toString().split('\r\n')[0]));
        socket.on('error', () => undefined);
        socket.write(`PUT /v2/images/${image.id}/file HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: ${5 * 1024 ** 3}\r\n\r\nx`);
        return socket;
      });
      await waitFor(async () => answers.length >= 16, '16 refusals beyond max_concurrent_uploads', 10_000);
      assert.ok(answers.every((a) => a.startsWith('HTTP/1.1 503')), answers.join('\n'));
      const stalled = procStatus(pid);
      await waitFor(async () => sockets.every((s) => s.destroyed || s.readableEnded), 'every stalled upload cut', 15_000);
      await waitFor(
        async () => ((await api.get('/v2/images?limit=100')).json.images as { status: string }[]).every((i) => i.status !== 'saving'),
        'every image back to queued',
        10_000,
      );
      await sleep(1500);
      const afterwards = procStatus(pid);
      process.stderr.write(`RSS MiB / threads: baseline ${baseline.rssMiB.toFixed(0)}/${baseline.threads}, stalled ${stalled.rssMiB.toFixed(0)}/${stalled.threads}, after ${afterwards.rssMiB.toFixed(0)}/${afterwards.threads}\n`);
      assert.ok(afterwards.threads <= baseline.threads + 2, `threads: ${baseline.threads} before, ${afterwards.threads} after`);
      assert.ok(afterwards.rssMiB < baseline.rssMiB + 150, `RSS: ${baseline.rssMiB} MiB before, ${afterwards.rssMiB} MiB after`);
      assert.equal((await api.upload(images[0].id, Buffer.alloc(4096, 2))).status, 204, 'the node still takes uploads');
    } finally {
      await stopProcess(server);
    }
  });
});
