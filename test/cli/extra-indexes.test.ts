/**
 * Glimpse's extra indexes (src/db/extra-indexes.ts): a database Glimpse
 * creates on PostgreSQL has them; a Glance database is left as Glance made it
 * until the operator adds them, live, with `manage db add-indexes`, and
 * `drop-indexes` takes it back to exactly Glance's schema.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { Client } from '../helpers/client.js';
import { type TestDatabase, createTestDatabase } from '../helpers/databases.js';
import { runGlimpse, serveProcess, stopProcess } from '../helpers/process.js';
import { postgresSkip } from '../helpers/tools.js';

const EXTRA = ['glimpse_image_locations_image_id_hash', 'glimpse_image_members_image_id_hash', 'glimpse_image_properties_image_id_hash', 'glimpse_image_tags_image_id_hash'];

const run = runGlimpse;

const skip = postgresSkip();

describe("Glimpse's extra indexes on PostgreSQL", { skip }, () => {
  let database: TestDatabase;
  let sql: pg.Client;
  /** Every index in the database: name → definition. */
  const indexes = async () => new Map((await sql.query('SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()')).rows.map((r) => [r.indexname as string, r.indexdef as string]));
  const extraPresent = async () => [...(await indexes()).keys()].filter((n) => n.startsWith('glimpse_')).sort();

  before(async () => {
    database = (await createTestDatabase('postgres', true))!;
    sql = new pg.Client({ connectionString: database.url });
    await sql.connect();
  });
  after(async () => {
    await sql?.end();
    await database?.drop();
  });

  it('are created with the schema by manage db sync, as hash indexes on image_id', async () => {
    const res = await run(['manage', 'db', 'sync', '--database', database.url]);
    assert.equal(res.code, 0, res.stderr);
    const all = await indexes();
    assert.deepEqual(await extraPresent(), EXTRA);
    for (const name of EXTRA) assert.match(all.get(name)!, /USING hash \(image_id\)$/);
    // Glance's own indexes are all there beside them, unchanged.
    assert.match(all.get('ix_image_properties_image_id')!, /USING btree \(image_id\)$/);
  });

  it('are left out of a Glance database until added; the server says how, and they can be added and dropped live', async () => {
    const glanceOnly = await indexes();
    const dropped = await run(['manage', 'db', 'drop-indexes', '--database', database.url]);
    assert.equal(dropped.code, 0, dropped.stderr);
    assert.match(dropped.stdout, /Dropped glimpse_image_properties_image_id_hash/);
    assert.deepEqual(await extraPresent(), []);
    for (const name of EXTRA) glanceOnly.delete(name);
    assert.deepEqual(await indexes(), glanceOnly, "drop-indexes leaves exactly Glance's indexes");

    const sync = await run(['manage', 'db', 'sync', '--database', database.url]);
    assert.match(sync.stdout, /already at revision 2024_1_contract01; nothing to do/);
    assert.match(sync.stdout, /glimpse manage db add-indexes.*missing: glimpse_image_properties_image_id_hash/);
    assert.deepEqual(await extraPresent(), [], 'db sync on an existing database changes nothing');

    const dataDir = mkdtempSync(path.join(tmpdir(), 'glimpse-indexes-'));
    const server = await serveProcess(['--database', database.url, '--data-dir', dataDir, '--bind', '127.0.0.1:0']);
    try {
      assert.match(server.log(), /"level":40,.*glimpse manage db add-indexes/);
      const api = new Client(server.url);
      const image = await api.createImage({ name: 'indexed', disk_format: 'raw', container_format: 'bare', os_distro: 'ubuntu' });
      // Added while the server serves (CONCURRENTLY: no writer is locked out).
      const added = await run(['manage', 'db', 'add-indexes', '--database', database.url]);
      assert.equal(added.code, 0, added.stderr);
      assert.equal(added.stdout.trim(), 'Added glimpse_image_properties_image_id_hash, glimpse_image_tags_image_id_hash, glimpse_image_members_image_id_hash, glimpse_image_locations_image_id_hash');
      assert.deepEqual(await extraPresent(), EXTRA);
      const found = (await api.get('/v2/images?os_distro=ubuntu')).json.images as { id: string }[];
      assert.deepEqual(found.map((i) => i.id), [image.id]);
    } finally {
      await stopProcess(server);
      rmSync(dataDir, { recursive: true, force: true });
    }
    const again = await run(['manage', 'db', 'add-indexes', '--database', database.url]);
    assert.match(again.stdout, /all present/);
  });

  it('rebuilds an index an interrupted build left invalid', async () => {
    await sql.query("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'glimpse_image_tags_image_id_hash'::regclass");
    const res = await run(['manage', 'db', 'add-indexes', '--database', database.url]);
    assert.equal(res.stdout.trim(), 'Added glimpse_image_tags_image_id_hash');
    const valid = await sql.query("SELECT indisvalid FROM pg_index WHERE indexrelid = 'glimpse_image_tags_image_id_hash'::regclass");
    assert.equal(valid.rows[0].indisvalid, true);
  });
});

describe("Glimpse's extra indexes elsewhere", () => {
  it('are none on SQLite, and add-indexes says so', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'glimpse-indexes-'));
    try {
      const database = `sqlite:///${path.join(dir, 'glance.sqlite')}`;
      assert.equal((await run(['manage', 'db', 'sync', '--database', database])).code, 0);
      const res = await run(['manage', 'db', 'add-indexes', '--database', database]);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, /PostgreSQL only/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
