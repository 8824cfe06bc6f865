/**
 * Data path benchmark: upload and download of large images through the HTTP
 * API on loopback, with the server's RSS growth, beside the machine's own
 * limits measured in the same run: single-pass md5+sha512 in memory, raw disk
 * write (with fsync) and page-cache read. The format inspector's cost is
 * measured alone in memory and as an upload of a container Glance does not
 * inspect (ovf) beside the inspected (bare) one.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FormatInspector } from '../src/formats/inspector.js';
import type { BenchServer } from './harness.js';

const MiB = 1024 * 1024;
const block = randomBytes(MiB);

/** `size` bytes made of one random MiB block, repeated (cheap to produce, not compressible). */
export function source(size: number): Readable {
  let sent = 0;
  return new Readable({
    highWaterMark: 4 * MiB,
    read() {
      if (sent >= size) return void this.push(null);
      const n = Math.min(MiB, size - sent);
      sent += n;
      this.push(n === MiB ? block : block.subarray(0, n));
    },
  });
}

export interface DataRow {
  what: string;
  size: number;
  seconds: number;
  rssGrowth?: number;
}

export function hashLimit(size: number): DataRow {
  const t0 = performance.now();
  const md5 = createHash('md5');
  const sha = createHash('sha512');
  for (let done = 0; done < size; done += MiB) {
    md5.update(block);
    sha.update(block);
  }
  md5.digest();
  sha.digest();
  return { what: 'limit: md5+sha512 in memory', size, seconds: (performance.now() - t0) / 1000 };
}

/** The inspector over `size` bytes of a qcow2 image (header, then data), in memory: its whole cost. */
function inspectorAlone(size: number): DataRow {
  const header = Buffer.from(block);
  header.write('QFI\xfb', 0, 'latin1');
  header.writeUInt32BE(3, 4);
  const t0 = performance.now();
  const inspector = new FormatInspector();
  inspector.feed(header);
  for (let done = MiB; done < size; done += MiB) inspector.feed(block);
  inspector.finish();
  return { what: 'format inspector alone, in memory', size, seconds: (performance.now() - t0) / 1000 };
}

async function diskWrite(file: string, size: number): Promise<DataRow> {
  const t0 = performance.now();
  const out = createWriteStream(file);
  await pipeline(source(size), out);
  const { open } = await import('node:fs/promises');
  const handle = await open(file, 'r');
  await handle.sync();
  await handle.close();
  return { what: 'limit: raw disk write + fsync', size, seconds: (performance.now() - t0) / 1000 };
}

async function cacheRead(file: string, size: number): Promise<DataRow> {
  const t0 = performance.now();
  let n = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: MiB })) n += (chunk as Buffer).length;
  if (n !== size) throw new Error('short read');
  return { what: 'limit: page-cache read', size, seconds: (performance.now() - t0) / 1000 };
}

/** Samples the server's RSS while `work` runs; returns the growth over the starting RSS. */
export async function withRss<T>(server: BenchServer, work: () => Promise<T>): Promise<[T, number]> {
  const base = server.rss();
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, server.rss())), 20);
  try {
    const result = await work();
    return [result, peak - base];
  } finally {
    clearInterval(timer);
  }
}

/** A timed row: how long `work` took on the server, with its RSS growth meanwhile. */
export async function timedRow(server: BenchServer, what: string, size: number, work: () => Promise<unknown>): Promise<DataRow> {
  const t0 = performance.now();
  const [, rssGrowth] = await withRss(server, work);
  return { what, size, seconds: (performance.now() - t0) / 1000, rssGrowth };
}

/** Where a benchmark sends requests: a server's URL and the headers that say who is asking. */
export interface Endpoint {
  url: string;
  headers?: Record<string, string>;
}

export async function createImage(server: Endpoint, container_format = 'bare'): Promise<string> {
  const res = await fetch(`${server.url}/v2/images`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...server.headers },
    body: JSON.stringify({ disk_format: 'raw', container_format }),
  });
  if (res.status !== 201) throw new Error(`create answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

export function upload(server: Endpoint, id: string, size: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.url}/v2/images/${id}/file`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-length': size, ...server.headers },
    });
    req.on('response', (res) => {
      res.resume();
      res.statusCode === 204 ? resolve() : reject(new Error(`upload answered ${res.statusCode}`));
    });
    req.on('error', reject);
    source(size).pipe(req);
  });
}

export function download(server: Endpoint, id: string, size: number): Promise<void> {
  return new Promise((resolve, reject) => {
    http.get(`${server.url}/v2/images/${id}/file`, { headers: server.headers }, (res) => {
      let n = 0;
      res.on('data', (d: Buffer) => (n += d.length));
      res.on('end', () => (n === size ? resolve() : reject(new Error(`downloaded ${n} of ${size}`))));
      res.on('error', reject);
    });
  });
}

/** curl, when installed, is the lighter client: it leaves more of the 2 cores to the server. */
export function curl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', ...args], (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
}

export async function hasCurl(): Promise<boolean> {
  return curl(['--version']).then(
    () => true,
    () => false,
  );
}

/** One upload and download first, so that the figures are of a server past its start-up (JIT, first allocations). */
async function warmUp(server: BenchServer): Promise<void> {
  const size = 256 * MiB;
  const id = await createImage(server);
  await upload(server, id, size);
  await download(server, id, size);
  await fetch(`${server.url}/v2/images/${id}`, { method: 'DELETE' });
}

export async function dataBenchmarks(server: BenchServer, sizes: number[]): Promise<DataRow[]> {
  const rows: DataRow[] = [];
  const useCurl = await hasCurl();
  await warmUp(server);
  for (const size of sizes) {
    rows.push(hashLimit(size));
    rows.push(inspectorAlone(size));
    const scratch = path.join(server.dataDir, 'scratch.bin');
    rows.push(await diskWrite(scratch, size));
    rows.push(await cacheRead(scratch, size));
    const client = useCurl ? 'curl' : 'node';
    const timedUpload = async (container: string) => {
      const image = await createImage(server, container);
      const t0 = performance.now();
      const [, rss] = await withRss(server, async () => {
        if (!useCurl) return upload(server, image, size);
        const code = await curl(['-T', scratch, '-H', 'content-type: application/octet-stream', `${server.url}/v2/images/${image}/file`]);
        if (code !== '204') throw new Error(`upload answered ${code}`);
      });
      return { image, seconds: (performance.now() - t0) / 1000, rss };
    };
    const uninspected = await timedUpload('ovf');
    rows.push({ what: `Glimpse upload, ovf: not inspected (${client} client)`, size, seconds: uninspected.seconds, rssGrowth: uninspected.rss });
    await fetch(`${server.url}/v2/images/${uninspected.image}`, { method: 'DELETE' });
    const up = await timedUpload('bare');
    const id = up.image;
    rows.push({ what: `Glimpse upload (PUT /file, bare: inspected, ${client} client)`, size, seconds: up.seconds, rssGrowth: up.rss });
    rmSync(scratch);
    const t0 = performance.now();
    const [, downRss] = await withRss(server, async () => {
      if (!useCurl) return download(server, id, size);
      const code = await curl([`${server.url}/v2/images/${id}/file`]);
      if (code !== '200') throw new Error(`download answered ${code}`);
    });
    rows.push({ what: `Glimpse download (GET /file, ${client} client)`, size, seconds: (performance.now() - t0) / 1000, rssGrowth: downRss });
    await fetch(`${server.url}/v2/images/${id}`, { method: 'DELETE' });
  }
  return rows;
}

/** A titled Markdown table of data rows: size, what, MB/s, the server's RSS growth. */
export function printRows(title: string, rows: DataRow[]): void {
  console.log(`\n${title}\n`);
  console.log('| size | what | MB/s | server RSS growth |');
  console.log('|---|---|---|---|');
  for (const r of rows) {
    const rss = r.rssGrowth === undefined ? '' : `${(r.rssGrowth / MiB).toFixed(1)} MiB`;
    console.log(`| ${(r.size / 2 ** 30).toFixed(0)} GiB | ${r.what} | ${(r.size / 1e6 / r.seconds).toFixed(0)} | ${rss} |`);
  }
}

export function printDataTable(rows: DataRow[]): void {
  printRows('Image data over HTTP on loopback (file store, after a 256 MiB warm-up upload), beside the machine\'s limits', rows);
  for (const size of new Set(rows.map((r) => r.size))) {
    const inspector = rows.find((r) => r.size === size && r.what.startsWith('format inspector'));
    const upload = rows.find((r) => r.size === size && r.what.includes('bare: inspected'));
    if (inspector && upload) {
      console.log(`\n${(size / 2 ** 30).toFixed(0)} GiB: the inspector's own time is ${((100 * inspector.seconds) / upload.seconds).toFixed(2)}% of the inspected upload's`);
    }
  }
}
