/** The `glimpse` command as a person runs it: real processes, real exit codes. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { runGlimpse, serveProcess, stopProcess } from '../helpers/process.js';

const run = runGlimpse;
const serve = serveProcess;

describe('glimpse command', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'glimpse-cmd-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('creates Glance\'s schema with manage db sync, idempotently, and reports the version', async () => {
    const database = `sqlite:///${path.join(dir, 'managed.sqlite')}`;
    const first = await run(['manage', 'db', 'sync', '--database', database]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /Created Glance's schema at revision 2024_1_contract01/);
    const second = await run(['manage', 'db', 'sync', '--database', database]);
    assert.match(second.stdout, /already at revision 2024_1_contract01/);
    const version = await run(['manage', 'db', 'version', '--database', database]);
    assert.equal(version.stdout.trim(), '2024_1_contract01');
    assert.equal((await run(['manage', 'db', 'db_version', '--database', database])).stdout.trim(), '2024_1_contract01');

    const db = new SQLite(path.join(dir, 'managed.sqlite'), { readonly: true });
    const names = (type: string) => db.prepare(`SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite_%' ORDER BY name`).all(type).map((r) => (r as { name: string }).name);
    assert.deepEqual(names('table'), [
      'alembic_version', 'cached_images', 'image_locations', 'image_members', 'image_properties', 'image_tags', 'images',
      'metadef_namespace_resource_types', 'metadef_namespaces', 'metadef_objects', 'metadef_properties', 'metadef_resource_types',
      'metadef_tags', 'node_reference', 'task_info', 'tasks',
    ]);
    for (const index of ['checksum_image_idx', 'ix_images_deleted', 'owner_image_idx', 'created_at_image_idx', 'updated_at_image_idx', 'visibility_image_idx', 'os_hidden_image_idx', 'os_hash_value_image_idx', 'ix_image_properties_image_id', 'ix_image_members_image_id_member', 'ix_image_tags_image_id_tag_value', 'ix_tasks_image_id', 'ix_metadef_ns_res_types_namespace_id']) {
      assert.ok(names('index').includes(index), index);
    }
    const columns = db.prepare("SELECT name, type, \"notnull\" FROM pragma_table_info('images') ORDER BY cid").all();
    assert.deepEqual(columns.map((c) => (c as { name: string }).name), [
      'id', 'name', 'size', 'status', 'created_at', 'updated_at', 'deleted_at', 'deleted', 'disk_format', 'container_format',
      'checksum', 'owner', 'min_disk', 'min_ram', 'protected', 'virtual_size', 'visibility', 'os_hidden', 'os_hash_algo', 'os_hash_value',
    ]);
    db.close();
  });

  it('refuses to serve a database at an unknown revision, with a clear message', async () => {
    const file = path.join(dir, 'old.sqlite');
    const db = new SQLite(file);
    db.exec("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL); INSERT INTO alembic_version VALUES ('queens_contract01'); CREATE TABLE images (id TEXT)");
    db.close();
    const res = await run(['serve', '--database', `sqlite:///${file}`, '--bind', '127.0.0.1:0']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /unknown schema revision \(queens_contract01\)/);
  });

  it('refuses noauth on a non-loopback address unless --insecure', async () => {
    const res = await run(['serve', '--data-dir', path.join(dir, 'refused'), '--bind', '0.0.0.0:0']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /refusing to serve without authentication on 0\.0\.0\.0/);
    const { child, url } = await serve(['--data-dir', path.join(dir, 'insecure'), '--bind', '0.0.0.0:0', '--insecure']);
    try {
      const port = new URL(url).port;
      assert.equal((await fetch(`http://127.0.0.1:${port}/versions`)).status, 200);
    } finally {
      await stopProcess({ child });
    }
  });

  it('serves with the embedded defaults, logs JSON lines and stops cleanly on SIGTERM', async () => {
    const { child, url } = await serve(['--data-dir', path.join(dir, 'served'), '--bind', '127.0.0.1:0']);
    const res = await fetch(`${url}/v2/images`, { headers: { 'x-auth-token': 'secret-token-value' } });
    assert.equal(res.status, 200);
    let logs = '';
    child.stdout!.on('data', (d) => (logs += d));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await stopProcess({ child }), 0);
    for (const line of logs.trim().split('\n')) JSON.parse(line);
    assert.doesNotMatch(logs, /secret-token-value/);
  });

  it('prints help with examples and fails on unknown commands', async () => {
    const help = await run(['--help']);
    assert.match(help.stdout, /Examples:/);
    assert.match((await run(['serve', '--help'])).stdout, /--bind <host:port>/);
    assert.notEqual((await run(['nonsense'])).code, 0);
    const commands = [
      ['serve'], ['image'], ['image', 'list'], ['image', 'show'], ['image', 'create'], ['image', 'set'], ['image', 'unset'], ['image', 'delete'],
      ['image', 'save'], ['image', 'stage'], ['image', 'import'], ['image', 'inspect'], ['image', 'deactivate'], ['image', 'reactivate'], ['image', 'add', 'project'],
      ['image', 'remove', 'project'], ['image', 'member', 'list'], ['image', 'tag', 'add'], ['image', 'tag', 'remove'],
      ['manage', 'db', 'sync'], ['manage', 'db', 'version'], ['manage', 'metadefs', 'load'], ['manage', 'metadefs', 'unload'], ['manage', 'metadefs', 'export'],
    ];
    for (const command of commands) {
      const res = await run([...command, '--help']);
      assert.equal(res.code, 0, command.join(' '));
      assert.match(res.stdout, /Examples:\n  glimpse /, `${command.join(' ')} --help shows examples`);
    }
    // A command's own options come first, the 13 --os-* ones after them.
    const create = (await run(['image', 'create', '--help'])).stdout;
    assert.ok(create.includes('--os-cloud') && create.indexOf('--disk-format') < create.indexOf('--os-cloud'), 'own options before --os-*');
  });
});
