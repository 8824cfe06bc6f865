/**
 * The RBD store's data path on the shared single-node Ceph (../shared/ceph):
 * upload and download of a large image through the API beside the limits
 * measured in the same run — md5+sha512 in memory and the cluster's own
 * `rbd bench` (its default 4 KiB writes, and 8 MiB ones, Glance's object
 * size) — with the upload's share of the lower limit (target: ≥ 90 %).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { RbdStore } from '../src/store/rbd-store.js';
import { ingest } from '../src/store/ingest.js';
import { type DataRow, createImage, download, hashLimit, printRows, source, timedRow, upload } from './data.js';
import { startBenchServer } from './harness.js';

const MiB = 1024 * 1024;
const CEPH_CONF = '/var/tmp/ceph-test/ceph.conf';

/** `rbd bench` on a fresh image of `size` bytes: its MB/s. */
function rbdBench(type: 'write' | 'read', ioSize: string, size: number): DataRow {
  const image = `glimpse-bench-${process.pid}`;
  const rbd = (...args: string[]) => execFileSync('rbd', ['--id', 'glance', '--conf', CEPH_CONF, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  rbd('create', '--size', `${size / MiB}M`, '--object-size', '8M', `images/${image}`);
  try {
    if (type === 'read') rbd('bench', '--io-type', 'write', '--io-size', '8M', '--io-total', String(size), `images/${image}`);
    const out = rbd('bench', '--io-type', type, '--io-size', ioSize, '--io-total', String(size), `images/${image}`);
    const [, value, unit] = /bytes\/sec: ([\d.]+) (\w+)/.exec(out.trim().split('\n').pop() ?? '') ?? [];
    const bytesPerSecond = Number(value) * ({ B: 1, KiB: 1024, MiB: MiB, GiB: 1024 * MiB } as Record<string, number>)[unit];
    return { what: `limit: rbd bench --io-type ${type} --io-size ${ioSize}`, size, seconds: size / bytesPerSecond };
  } finally {
    rbd('rm', '--no-progress', `images/${image}`);
  }
}

/**
 * The upload's own work without HTTP, in this process: both digests on
 * their worker threads and the RBD writes at once, on the same two cores as
 * the OSD. What any upload on this machine can at most reach.
 */
async function ingestAlone(size: number): Promise<DataRow> {
  const store = new RbdStore('rbd', { pool: 'images', user: 'glance', confFile: CEPH_CONF, chunkSize: 8 * MiB, connectTimeout: 30, thin: false });
  try {
    const id = randomUUID();
    const t0 = performance.now();
    const stored = await ingest(store, id, source(size), { hashingAlgorithm: 'sha512', expectedSize: size, maxBytes: Number.MAX_SAFE_INTEGER, limitMessage: '' });
    const seconds = (performance.now() - t0) / 1000;
    await store.delete(stored.location);
    return { what: 'limit: md5+sha512 (two threads) and RBD writes at once, in process, no HTTP', size, seconds };
  } finally {
    await store.close();
  }
}

export async function rbdBenchmarks(size: number): Promise<DataRow[] | null> {
  if (!existsSync(CEPH_CONF)) {
    console.log(`\nRBD: skipped, no test cluster (bash ../shared/ceph/setup.sh --start)`);
    return null;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'glimpse-bench-rbd-'));
  const config = path.join(dir, 'glance-api.conf');
  writeFileSync(config, `[glance_store]\ndefault_store = rbd\nrbd_store_pool = images\nrbd_store_user = glance\nrbd_store_ceph_conf = ${CEPH_CONF}\nrbd_store_chunk_size = 8\n`);
  const server = await startBenchServer(['--config', config]);
  const rows: DataRow[] = [hashLimit(size), rbdBench('write', '4K', size), rbdBench('write', '8M', size), rbdBench('read', '8M', size), await ingestAlone(size)];
  try {
    const warm = await createImage(server);
    await upload(server, warm, 256 * MiB);
    await fetch(`${server.url}/v2/images/${warm}`, { method: 'DELETE' });
    const id = await createImage(server);
    rows.push(await timedRow(server, 'Glimpse upload to RBD (PUT /file, node client)', size, () => upload(server, id, size)));
    rows.push(await timedRow(server, 'Glimpse download from RBD (GET /file, node client)', size, () => download(server, id, size)));
    await fetch(`${server.url}/v2/images/${id}`, { method: 'DELETE' });
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export function printRbdTable(rows: DataRow[]): void {
  printRows('Image data on RBD (single-node Ceph of ../shared/ceph, 8 MiB objects), beside the limits measured in the same run', rows);
  const rate = (r: DataRow) => r.size / 1e6 / r.seconds;
  const upload = rows.find((r) => r.what.startsWith('Glimpse upload'))!;
  const hash = rows.find((r) => r.what.startsWith('limit: md5+sha512 in memory'))!;
  const together = rows.find((r) => r.what.includes('at once'))!;
  console.log(`upload vs the same work without HTTP: ${((100 * rate(upload)) / rate(together)).toFixed(0)}%`);
  for (const bench of rows.filter((r) => r.what.includes('rbd bench --io-type write'))) {
    const limit = Math.min(rate(hash), rate(bench));
    console.log(`upload vs min(md5+sha512, ${bench.what.slice(7)}) = ${limit.toFixed(0)} MB/s: ${((100 * rate(upload)) / limit).toFixed(0)}% (target ≥ 90%)`);
  }
}
