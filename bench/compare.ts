/**
 * `npm run bench compare`: the real glance-api and Glimpse side by side in
 * one run, each on its own SQLite database and file store, both taking
 * identities from trusted headers. The same client code measures both, one
 * server at a time, and every row prints the load average beside it.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { type Endpoint, createImage, curl, source } from './data.js';
import { GLANCE_API, glanceInstalled, prepareGlance, startGlance } from './glance.js';
import { startBenchServer } from './harness.js';

const GiB = 2 ** 30;
/** `npm run bench compare data`: the data-path rows alone (a few minutes instead of ten). */
const DATA_ONLY = process.argv[3] === 'data';
/** A glance-api.conf for Glimpse (GLIMPSE_BENCH_CONFIG), to compare settings such as `[glimpse] file_store_direct_io`. */
const GLIMPSE_ARGS = ['--auth', 'headers', ...(process.env.GLIMPSE_BENCH_CONFIG ? ['--config', process.env.GLIMPSE_BENCH_CONFIG] : [])];
const IDENTITY = { 'x-identity-status': 'Confirmed', 'x-roles': 'member,reader', 'x-project-id': 'bench', 'x-tenant-id': 'bench', 'x-user-id': 'bench-user' };

interface Figure {
  operation: string;
  unit: string;
  /** Whether a larger figure is better (rates) or worse (latencies). */
  higherIsBetter: boolean;
  glance?: number;
  glimpse?: number;
  load: string[];
}

type Runner = (endpoint: Endpoint) => Promise<number>;

/** `count` creates, 16 at a time: images per second. */
const creates =
  (count: number, ids: string[]): Runner =>
  async (e) => {
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < count) {
          next += 1;
          const res = await fetch(`${e.url}/v2/images`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...e.headers },
            body: JSON.stringify({ name: `compare-${ids.length}`, disk_format: 'qcow2', container_format: 'bare', tags: ['compare'] }),
          });
          if (res.status !== 201) throw new Error(`create answered ${res.status}: ${await res.text()}`);
          ids.push(((await res.json()) as { id: string }).id);
        }
      }),
    );
    return count / ((performance.now() - t0) / 1000);
  };

/** GET /v2/images?limit=1000, one at a time: the median in ms. */
const listing: Runner = async (e) => {
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    const res = await fetch(`${e.url}/v2/images?limit=1000`, { headers: e.headers });
    const body = (await res.json()) as { images: unknown[] };
    if (body.images.length !== 1000) throw new Error(`listed ${body.images.length} images, not 1000`);
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
};

/** GET /v2/images/{id} over 16 connections for 10 s with wrk (a C client: it leaves the most CPU to the server). */
const shows =
  (ids: string[], scratch: string): Runner =>
  async (e) => {
    const script = path.join(scratch, 'show.lua');
    writeFileSync(
      script,
      `local ids = {${ids.slice(0, 2000).map((id) => `"${id}"`).join(',')}}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format("GET", "/v2/images/" .. ids[(i % #ids) + 1])\nend\n`,
    );
    const headers = Object.entries(e.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
    spawnSync('wrk', ['-t1', '-c16', '-d2s', '-s', script, ...headers, e.url], { encoding: 'utf8' }); // warm-up
    const run = spawnSync('wrk', ['-t1', '-c16', '-d10s', '-s', script, ...headers, e.url], { encoding: 'utf8' });
    const rate = /Requests\/sec:\s+([\d.]+)/.exec(run.stdout);
    if (!rate || /Non-2xx/.test(run.stdout)) throw new Error(`wrk: ${run.stdout}${run.stderr}`);
    return Number(rate[1]);
  };

/**
 * The 1 GiB upload, then the first and the second download of the same
 * image, with curl (a Node client would take a core from the server): MB/s each.
 */
async function dataPath(e: Endpoint, file: string): Promise<[number, number, number]> {
  const id = await createImage(e);
  const headers = Object.entries(e.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const rate = async (args: string[], expected: string) => {
    const t0 = performance.now();
    const code = await curl([...headers, ...args]);
    if (code !== expected) throw new Error(`curl ${args.join(' ')} answered ${code}`);
    return GiB / 1e6 / ((performance.now() - t0) / 1000);
  };
  const url = `${e.url}/v2/images/${id}/file`;
  const up = await rate(['-T', file, '-H', 'content-type: application/octet-stream', url], '204');
  const first = await rate([url], '200');
  const second = await rate([url], '200');
  return [up, first, second];
}

/** The 1 GiB file that curl uploads (one random MiB, repeated), read once so that it is in the page cache. */
async function uploadFile(scratch: string): Promise<string> {
  const file = path.join(scratch, 'upload.bin');
  await pipeline(source(GiB), createWriteStream(file));
  for await (const chunk of createReadStream(file, { highWaterMark: 2 ** 20 })) void chunk;
  return file;
}

/** One server's figures, in the table's order; `more` starts it again with every core. */
async function figuresOf(e: Endpoint, scratch: string, more: () => Promise<{ endpoint: Endpoint; stop(): Promise<void> }>, rows: Figure[], side: 'glance' | 'glimpse') {
  const ids: string[] = [];
  const record = async (i: number, run: () => Promise<number>) => {
    rows[i][side] = await run();
    rows[i].load.push(loadavg()[0].toFixed(2));
  };
  if (DATA_ONLY) return dataRows(e, scratch, rows, side);
  await record(0, () => creates(1000, ids)(e));
  await record(1, () => listing(e));
  await record(2, () => creates(9000, ids)(e));
  await record(3, () => listing(e));
  await record(4, () => shows(ids, scratch)(e));
  const many = await more();
  try {
    await record(5, () => shows(ids, scratch)(many.endpoint));
  } finally {
    await many.stop();
  }
  await dataRows(e, scratch, rows, side);
}

async function dataRows(e: Endpoint, scratch: string, rows: Figure[], side: 'glance' | 'glimpse') {
  const [up, first, second] = await dataPath(e, path.join(scratch, 'upload.bin'));
  for (const [i, value] of [
    [6, up],
    [7, first],
    [8, second],
  ] as const) {
    rows[i][side] = value;
    rows[i].load.push(loadavg()[0].toFixed(2));
  }
}

export async function compareWithGlance(): Promise<boolean> {
  if (!glanceInstalled()) {
    console.log(`\ncompare: skipped, ${GLANCE_API} is not installed (apt-get install glance-api)`);
    return false;
  }
  if (spawnSync('wrk', ['--version']).error) {
    console.log('\ncompare: skipped, wrk is not installed (apt-get install wrk)');
    return false;
  }
  const n = cpus().length;
  const rows: Figure[] = [
    ['create, the first 1,000', 'images/s', true],
    ['list 1,000 of 1,000 (p50)', 'ms', false],
    ['create, 9,000 more', 'images/s', true],
    ['list 1,000 of 10,000 (p50)', 'ms', false],
    ['show, 16 connections, 1 worker', 'req/s', true],
    [`show, 16 connections, ${n} workers`, 'req/s', true],
    ['upload 1 GiB', 'MB/s', true],
    ['first download, right after the upload', 'MB/s', true],
    ['second download', 'MB/s', true],
  ].map(([operation, unit, higherIsBetter]) => ({ operation, unit, higherIsBetter, load: [] }) as Figure);
  const scratch = mkdtempSync(path.join(tmpdir(), 'glimpse-compare-'));
  try {
    prepareGlance(scratch);
    await uploadFile(scratch);
    const glance = await startGlance(scratch, 1);
    try {
      const endpoint = { url: glance.url, headers: IDENTITY };
      const more = async () => {
        const many = await startGlance(scratch, n);
        return { endpoint: { url: many.url, headers: IDENTITY }, stop: many.stop };
      };
      await figuresOf(endpoint, scratch, more, rows, 'glance');
    } finally {
      await glance.stop();
    }
    const glimpse = await startBenchServer(GLIMPSE_ARGS);
    try {
      const endpoint = { url: glimpse.url, headers: IDENTITY };
      const more = async () => {
        const many = await startBenchServer([...GLIMPSE_ARGS, '--workers', String(n)], glimpse.dataDir);
        return { endpoint: { url: many.url, headers: IDENTITY }, stop: many.stop };
      };
      await figuresOf(endpoint, scratch, more, rows, 'glimpse');
    } finally {
      await glimpse.stop();
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  printComparison(rows, n);
  return true;
}

function printComparison(rows: Figure[], n: number): void {
  const fmt = (v: number | undefined, unit: string) => (v === undefined ? '-' : `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${unit}`);
  const table = rows.map((r) => {
    const ratio = r.glance && r.glimpse ? (r.higherIsBetter ? r.glimpse / r.glance : r.glance / r.glimpse) : NaN;
    return [r.operation, fmt(r.glance, r.unit), fmt(r.glimpse, r.unit), Number.isNaN(ratio) ? '-' : `${ratio.toFixed(2)}×`, r.load.join(' / ')];
  });
  const head = ['operation', 'Glance', 'Glimpse', 'Glimpse is', 'load (Glance / Glimpse)'];
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(`\nglance-api and Glimpse side by side (SQLite, file store, trusted headers; ${n} cores; ${new Date().toISOString().slice(0, 10)})\n`);
  console.log(line(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of table) console.log(line(r));
  console.log('\n"Glimpse is": how many times better (faster rate, or shorter time for the list rows).');
}
