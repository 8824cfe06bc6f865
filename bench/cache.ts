/**
 * The image cache in front of a remote store: a 1 GiB download of a
 * Swift-backed image (the Swift all-in-one of ../shared/swift), uncached
 * (which fills the cache on the way) and then cached, beside a page-cache
 * read of the cached file in the same run.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type DataRow, createImage, curl, download, hasCurl, printRows, timedRow, upload } from './data.js';
import { startBenchServer } from './harness.js';

export async function cacheBenchmarks(size: number): Promise<DataRow[] | null> {
  if (!existsSync('/var/tmp/swift-aio/endpoints.env')) {
    console.log('\nImage cache: skipped, no Swift all-in-one (bash ../shared/swift/setup.sh && bash ../shared/swift/start.sh)');
    return null;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'glimpse-bench-cache-'));
  const config = path.join(dir, 'glance-api.conf');
  writeFileSync(
    config,
    [
      '[DEFAULT]', `image_cache_dir = ${path.join(dir, 'cache')}`, 'cache_prefetcher_interval = 3600',
      '[glance_store]', 'default_store = swift', 'swift_store_auth_address = http://127.0.0.1:8080/auth/v1.0', 'swift_store_user = test:tester',
      'swift_store_key = testing', 'swift_store_auth_version = 1', `swift_store_container = glimpse-bench-${randomUUID().slice(0, 8)}`,
      'swift_store_create_container_on_put = true', '',
    ].join('\n'),
  );
  const server = await startBenchServer(['--config', config]);
  const rows: DataRow[] = [];
  try {
    const id = await createImage(server);
    await upload(server, id, size);
    const useCurl = await hasCurl();
    const get = async () => {
      if (!useCurl) return download(server, id, size);
      const code = await curl([`${server.url}/v2/images/${id}/file`]);
      if (code !== '200') throw new Error(`download answered ${code}`);
    };
    for (const what of ['download from Swift, uncached (fills the cache)', 'download, cached']) {
      rows.push(await timedRow(server, `Glimpse ${what} (${useCurl ? 'curl' : 'node'} client)`, size, get));
    }
    const t0 = performance.now();
    for await (const _chunk of createReadStream(path.join(dir, 'cache', id), { highWaterMark: 1024 * 1024 }));
    rows.push({ what: 'limit: page-cache read of the cached file', size, seconds: (performance.now() - t0) / 1000 });
    await fetch(`${server.url}/v2/images/${id}`, { method: 'DELETE' });
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export function printCacheTable(rows: DataRow[]): void {
  printRows('Image cache in front of Swift (Swift all-in-one on loopback)', rows);
}
