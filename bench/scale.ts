/**
 * Scale benchmark: list 1,000 of 1,000,000 images on PostgreSQL, with a
 * property filter and with a marker (target p50 < 20 ms). The rows are
 * inserted with SQL (generate_series) in Glance's encodings; the requests go
 * through a real server process.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { REPO_ROOT, type Result, call, measure, startBenchServer } from './harness.js';

const ADMIN_URL = process.env.GLIMPSE_BENCH_POSTGRES ?? 'postgresql://postgres@127.0.0.1:5432/test';

export async function scaleBenchmarks(count = 1_000_000): Promise<Result[]> {
  const name = `glimpse_bench_${Date.now()}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  try {
    execFileSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'glimpse'), 'manage', 'db', 'sync', '--database', url.toString()], { stdio: 'ignore' });
    const db = new pg.Client({ connectionString: url.toString() });
    await db.connect();
    const t0 = performance.now();
    await db.query(
      `INSERT INTO images (id, name, size, status, created_at, updated_at, deleted, disk_format, container_format, owner, min_disk, min_ram, protected, visibility, os_hidden)
       SELECT md5(g::text)::uuid::text, 'img-' || g, 1024, 'active', timestamp '2026-01-01' + g * interval '1 second', timestamp '2026-01-01' + g * interval '1 second',
              false, 'qcow2', 'bare', 'project-' || (g % 100), 0, 0, false, 'shared', false
       FROM generate_series(1, $1) g`,
      [count],
    );
    await db.query(
      `INSERT INTO image_properties (image_id, name, value, created_at, updated_at, deleted)
       SELECT md5(g::text)::uuid::text, 'os_distro', CASE WHEN g % 10 = 0 THEN 'ubuntu' ELSE 'debian' END, now(), now(), false
       FROM generate_series(1, $1) g`,
      [count],
    );
    // As autovacuum leaves a table in service: statistics, visibility map and hint bits set.
    await db.query('VACUUM ANALYZE');
    await db.end();
    console.log(`  inserted ${count} images (+${count} properties) in ${((performance.now() - t0) / 1000).toFixed(0)} s`);

    const server = await startBenchServer(['--database', url.toString()]);
    try {
      const H = { accept: 'application/json' };
      const mid = (await (await call(`${server.url}/v2/images?limit=1&sort_key=name&sort_dir=asc&name=img-500000`, { headers: H })).json()) as { images: { id: string }[] };
      const marker = mid.images[0].id;
      const list = (query: string) => async () => {
        await (await call(`${server.url}/v2/images?${query}`, { headers: H })).arrayBuffer();
      };
      // A few untimed requests first: the figures are of a server past its first queries.
      for (let i = 0; i < 5; i++) await Promise.all([list('limit=1000&os_distro=ubuntu')(), list(`limit=1000&marker=${marker}`)()]);
      const filtered = await measure('list 1000 of 1M, os_distro=ubuntu', 100, 1, list('limit=1000&os_distro=ubuntu'));
      const paged = await measure('list 1000 of 1M, with marker', 100, 1, list(`limit=1000&marker=${marker}`));
      const one = await measure('list 25 of 1M (default)', 100, 1, list(''));
      return [filtered, paged, one];
    } finally {
      await server.stop();
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}
