/**
 * `npm run bench soak`: two server processes on one database and one store
 * directory take a mixed, concurrent load for a bounded time
 * (GLIMPSE_SOAK_SECONDS, default 60) — creates, uploads, stagings, imports,
 * deletes, member adds and removals, property and tag writes past their
 * quotas — while one node is killed with SIGKILL and restarted now and then.
 * Then the load stops, recovery gets its time, and the invariants are
 * checked: no image stuck saving or importing, no data file without an active
 * image, no active image without its complete data, no member listed twice,
 * no count over its quota. It prints what it did and exits 1 on a breach.
 * PostgreSQL when reachable (GLIMPSE_SOAK_DB=sqlite|postgres|mysql chooses).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { openDatabase } from '../src/db/connection.js';
import { syncDatabase } from '../src/db/migrate.js';
import { type TestDialect, createTestDatabase } from '../test/helpers/databases.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const QUOTA = { properties: 12, tags: 12, members: 6 };

interface Node {
  child: ChildProcess;
  url: string;
}

function startNode(dataDir: string, database: string, config: string): Promise<Node> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'glimpse'), 'serve', '--data-dir', dataDir, '--database', database, '--bind', '127.0.0.1:0', '--config', config], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /"url":"(http:[^"]+)"/.exec(out);
      if (m) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`node exited with ${code}`)));
  });
}

const kill = (node: Node, signal: NodeJS.Signals) =>
  new Promise<void>((resolve) => {
    if (node.child.exitCode !== null || node.child.signalCode !== null) return resolve();
    node.child.once('exit', () => resolve());
    node.child.kill(signal);
  });

async function call(base: string, method: string, p: string, body?: unknown, raw?: Buffer): Promise<{ status: number; json: any }> {
  try {
    const res = await fetch(`${base}${p}`, {
      method,
      headers: raw
        ? { 'content-type': 'application/octet-stream' }
        : method === 'PATCH'
          ? { 'content-type': 'application/openstack-images-v2.1-json-patch' }
          : body !== undefined
            ? { 'content-type': 'application/json' }
            : {},
      body: raw ? new Uint8Array(raw) : body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, json: text && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : null };
  } catch {
    return { status: 0, json: null };
  }
}

export async function soak(): Promise<boolean> {
  const seconds = Number(process.env.GLIMPSE_SOAK_SECONDS ?? 60);
  const dialect = (process.env.GLIMPSE_SOAK_DB ?? 'postgres') as TestDialect;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'glimpse-soak-'));
  const config = path.join(dataDir, 'glance-api.conf');
  writeFileSync(
    config,
    `[DEFAULT]\nimage_property_quota = ${QUOTA.properties}\nimage_tag_quota = ${QUOTA.tags}\nimage_member_quota = ${QUOTA.members}\n` +
      '[glimpse]\nrecovery_interval_seconds = 1\nwrite_stale_seconds = 2\ntask_heartbeat_seconds = 1\n',
  );
  const testDb = dialect === 'sqlite' ? null : await createTestDatabase(dialect);
  const database = testDb?.url ?? `sqlite:///${path.join(dataDir, 'soak.sqlite')}`;
  if (!testDb) {
    const db = openDatabase(database);
    await syncDatabase(db);
    await db.close();
  }
  const nodes: Node[] = [await startNode(dataDir, database, config), await startNode(dataDir, database, config)];
  const counts: Record<string, number> = {};
  const tally = (what: string, status: number) => (counts[`${what} ${status}`] = (counts[`${what} ${status}`] ?? 0) + 1);
  const ids: string[] = [];
  const deadline = Date.now() + seconds * 1000;
  let kills = 0;

  const worker = async (w: number) => {
    let i = 0;
    while (Date.now() < deadline) {
      const base = nodes[(w + i++) % 2].url;
      const id = ids.length ? ids[Math.floor(Math.random() * ids.length)] : null;
      const action = Math.floor(Math.random() * 9);
      if (action === 0 || !id) {
        const r = await call(base, 'POST', '/v2/images', { disk_format: 'raw', container_format: 'bare', visibility: 'shared' });
        tally('create', r.status);
        if (r.status === 201) ids.push(r.json.id);
      } else if (action === 1) tally('upload', (await call(base, 'PUT', `/v2/images/${id}/file`, undefined, Buffer.alloc(64 * 1024 + Math.floor(Math.random() * 2 ** 20), w))).status);
      else if (action === 2) {
        const staged = await call(base, 'PUT', `/v2/images/${id}/stage`, undefined, Buffer.alloc(128 * 1024, w));
        tally('stage', staged.status);
        if (staged.status === 204) tally('import', (await call(base, 'POST', `/v2/images/${id}/import`, { method: { name: 'glance-direct' } })).status);
      } else if (action === 3) tally('delete', (await call(base, 'DELETE', `/v2/images/${id}`)).status);
      else if (action === 4) tally('member add', (await call(base, 'POST', `/v2/images/${id}/members`, { member: `p${Math.floor(Math.random() * 10)}` })).status);
      else if (action === 5) tally('member remove', (await call(base, 'DELETE', `/v2/images/${id}/members/p${Math.floor(Math.random() * 10)}`)).status);
      else if (action === 6) tally('property', (await call(base, 'PATCH', `/v2/images/${id}`, [{ op: 'add', path: `/k${Math.floor(Math.random() * 30)}`, value: 'v' }])).status);
      else if (action === 7) tally('tag', (await call(base, 'PUT', `/v2/images/${id}/tags/t${Math.floor(Math.random() * 30)}`)).status);
      else tally('list', (await call(base, 'GET', '/v2/images?limit=50')).status);
    }
  };
  const chaos = async () => {
    while (Date.now() < deadline - 5000) {
      await new Promise((r) => setTimeout(r, 3000 + Math.random() * 4000));
      const victim = Math.floor(Math.random() * 2);
      await kill(nodes[victim], 'SIGKILL');
      kills++;
      nodes[victim] = await startNode(dataDir, database, config);
    }
  };
  await Promise.all([...Array.from({ length: 8 }, (_, w) => worker(w)), chaos()]);

  // Recovery's turn: stale writes are judged after write_stale_seconds, imports taken over after three beats.
  const breaches: string[] = [];
  const settled = Date.now() + 30_000;
  let images: { id: string; status: string; size: number | null; tags: string[] }[] = [];
  while (Date.now() < settled) {
    images = (await call(nodes[0].url, 'GET', '/v2/images?limit=1000')).json?.images ?? [];
    if (images.every((i) => i.status !== 'saving' && i.status !== 'importing')) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const byId = new Map(images.map((i) => [i.id, i]));
  for (const i of images) if (i.status === 'saving' || i.status === 'importing') breaches.push(`${i.id} stuck ${i.status}`);
  const stored = existsSync(path.join(dataDir, 'images')) ? readdirSync(path.join(dataDir, 'images')) : [];
  for (const name of stored) {
    if (name.startsWith('.')) breaches.push(`partial file ${name}`);
    else if (byId.get(name)?.status !== 'active') breaches.push(`orphan data ${name} (image ${byId.get(name)?.status ?? 'deleted'})`);
  }
  for (const i of images.filter((x) => x.status === 'active')) {
    const file = path.join(dataDir, 'images', i.id);
    if (!existsSync(file) || statSync(file).size !== i.size) breaches.push(`active ${i.id} without its complete data`);
    if (i.tags.length > QUOTA.tags) breaches.push(`${i.id} has ${i.tags.length} tags`);
  }
  const db = openDatabase(database);
  try {
    const dupes = await sql<{ image_id: string; member: string; n: number }>`SELECT image_id, member, COUNT(*) AS n FROM image_members WHERE deleted = ${db.toBool(false)} GROUP BY image_id, member HAVING COUNT(*) > 1`.execute(db.kysely);
    for (const d of dupes.rows) breaches.push(`member ${d.member} of ${d.image_id} live ${d.n} times`);
    const members = await sql<{ image_id: string; n: number }>`SELECT image_id, COUNT(*) AS n FROM image_members WHERE deleted = ${db.toBool(false)} GROUP BY image_id HAVING COUNT(*) > ${QUOTA.members}`.execute(db.kysely);
    for (const m of members.rows) breaches.push(`${m.image_id} has ${m.n} members`);
    const props = await sql<{ image_id: string; n: number }>`SELECT image_id, COUNT(*) AS n FROM image_properties WHERE deleted = ${db.toBool(false)} AND name NOT LIKE 'os_glance%' GROUP BY image_id HAVING COUNT(*) > ${QUOTA.properties}`.execute(db.kysely);
    for (const p of props.rows) breaches.push(`${p.image_id} has ${p.n} properties`);
  } finally {
    await db.close();
  }
  await Promise.all(nodes.map((n) => kill(n, 'SIGTERM')));
  await testDb?.drop();
  rmSync(dataDir, { recursive: true, force: true });

  console.log(`\nSoak: ${seconds} s, two nodes on ${dialect}, 8 clients, ${kills} kill -9 of a node`);
  for (const [what, n] of Object.entries(counts).sort()) console.log(`  ${what.padEnd(22)} ${n}`);
  console.log(`  images at the end: ${images.length} (${images.filter((i) => i.status === 'active').length} active)`);
  console.log(breaches.length ? `BREACHES:\n  ${breaches.join('\n  ')}` : 'invariants hold: nothing stuck, orphaned, partial, duplicated or over quota');
  return breaches.length === 0;
}
