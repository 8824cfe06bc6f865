/**
 * `glimpse manage metadefs`: Glance's own shipped JSON files (Debian's
 * glance-common) load unchanged and read back through the API field for
 * field; export → unload → load gives the same catalog; --merge,
 * --prefer-new and --overwrite behave as glance-manage's.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN, Client } from '../helpers/client.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { REPO_ROOT, requireTool } from '../helpers/tools.js';

const GLANCE_METADEFS = '/etc/glance/metadefs';
const skip = requireTool("Glance's metadefs files", () => existsSync(GLANCE_METADEFS), 'apt-get install glance-common');

describe('metadefs files', { skip }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'glimpse-metadefs-'));
  const database = `sqlite:///${path.join(dir, 'catalog.sqlite')}`;
  let server: TestServer;
  let api: Client;
  const manage = (...args: string[]) => {
    const res = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'glimpse'), 'manage', ...args, '--database', database], { encoding: 'utf8' });
    assert.equal(res.status, 0, res.stderr);
    return res.stdout;
  };
  const catalog = async () => {
    const names = (await api.get('/v2/metadefs/namespaces?limit=1000')).json.namespaces.map((n: { namespace: string }) => n.namespace).sort();
    const docs = await Promise.all(names.map(async (n: string) => (await api.get(`/v2/metadefs/namespaces/${n}`)).json));
    return docs.map(({ created_at: _c, updated_at: _u, ...doc }) => ({
      ...doc,
      objects: doc.objects?.map(({ created_at: _oc, updated_at: _ou, ...o }: Record<string, unknown>) => o),
      resource_type_associations: doc.resource_type_associations?.map(({ name, prefix, properties_target }: Record<string, string>) => ({ name, prefix, properties_target })),
    }));
  };

  before(async () => {
    manage('db', 'sync');
    server = await startTestServer({ auth: 'headers', database });
    api = new Client(server.url, ADMIN);
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lists a loaded catalog's first page as Glance does: files loaded in the directory's order, ties on created_at broken by id", async () => {
    manage('metadefs', 'unload');
    manage('metadefs', 'load', '--path', GLANCE_METADEFS);
    // Python's os.listdir, as glance-manage reads the directory.
    const listed = spawnSync('/usr/bin/python3', ['-c', `import os,json; print(json.dumps([f for f in os.listdir(${JSON.stringify(GLANCE_METADEFS)}) if f.endswith('.json')]))`], { encoding: 'utf8' });
    const order = (JSON.parse(listed.stdout) as string[]).map((f) => JSON.parse(readFileSync(path.join(GLANCE_METADEFS, f), 'utf8')).namespace as string);
    const page = (await api.get('/v2/metadefs/namespaces?limit=5')).json.namespaces.map((n: { namespace: string }) => n.namespace);
    // Loaded within a second or two: newest second first, then the highest id (the last file loaded) first.
    const all = (await api.get('/v2/metadefs/namespaces?limit=1000')).json.namespaces as { namespace: string; created_at: string }[];
    const newest = all.filter((n) => n.created_at === all[0].created_at).map((n) => n.namespace);
    assert.deepEqual(newest, order.filter((n) => newest.includes(n)).reverse());
    assert.deepEqual(page, all.slice(0, 5).map((n) => n.namespace));
    manage('metadefs', 'unload');
    manage('metadefs', 'load');
  });

  it('starts a new database with the built-in catalog, which the API itself accepts', async () => {
    const builtIn = path.join(REPO_ROOT, 'catalog', 'metadefs');
    const files = readdirSync(builtIn).filter((f) => f.endsWith('.json'));
    assert.ok(files.length >= 10);
    const names = (await api.get('/v2/metadefs/namespaces?limit=1000')).json.namespaces.map((n: { namespace: string }) => n.namespace).sort();
    const expected = files.map((f) => JSON.parse(readFileSync(path.join(builtIn, f), 'utf8')).namespace).sort();
    assert.deepEqual(names, expected);
    const image = (await api.get('/v2/metadefs/namespaces?resource_types=OS::Glance::Image&limit=1000')).json.namespaces.map((n: { namespace: string }) => n.namespace);
    for (const ns of ['OS::Compute::Hypervisor', 'OS::Compute::LibvirtImage', 'OS::Glance::CommonImageProperties', 'OS::Glance::Signatures']) assert.ok(image.includes(ns), ns);
    const libvirt = (await api.get('/v2/metadefs/namespaces/OS::Compute::LibvirtImage?resource_type=OS::Glance::Image')).json;
    assert.ok('hw_disk_bus' in libvirt.properties && 'hw_vif_model' in libvirt.properties && 'hw_machine_type' in libvirt.properties);
    // Every built-in file passes the API's own validation (schemas and property definitions).
    manage('metadefs', 'unload');
    for (const f of files) {
      const doc = JSON.parse(readFileSync(path.join(builtIn, f), 'utf8'));
      for (const def of Object.values(doc.properties ?? {}) as Record<string, unknown>[]) {
        assert.ok(typeof def.title === 'string' && typeof def.type === 'string', `${f}: every property has a title and a type`);
        assert.ok(typeof def.description === 'string' && def.description.length > 10, `${f}: every property is described`);
        if (def.type === 'string') assert.ok('enum' in def || 'pattern' in def || 'maxLength' in def || f === 'common-image-properties.json', `${f}: string properties are constrained`);
      }
      const res = await api.post('/v2/metadefs/namespaces', doc);
      assert.equal(res.status, 201, `${f}: ${res.text}`);
    }
    manage('metadefs', 'unload');
    assert.match(manage('metadefs', 'load'), new RegExp(`Loaded ${files.length} namespaces`), 'load without a path loads the built-in catalog');
    manage('metadefs', 'unload');
  });

  it("loads every one of Glance's files and reads each back with the same fields", async () => {
    assert.match(manage('metadefs', 'load', '--path', GLANCE_METADEFS), /Loaded 33 namespaces/);
    const files = readdirSync(GLANCE_METADEFS).filter((f) => f.endsWith('.json'));
    assert.equal(files.length, 33);
    for (const file of files) {
      const doc = JSON.parse(readFileSync(path.join(GLANCE_METADEFS, file), 'utf8'));
      const shown = (await api.get(`/v2/metadefs/namespaces/${doc.namespace}`)).json;
      assert.equal(shown.namespace, doc.namespace, file);
      for (const key of ['display_name', 'description'] as const) assert.equal(shown[key], doc[key] ?? undefined, `${file}: ${key}`);
      // Glance's column default: a file that says nothing of visibility loads a private namespace.
      assert.equal(shown.visibility, doc.visibility ?? 'private', `${file}: visibility`);
      assert.equal(shown.protected, doc.protected ?? false, `${file}: protected`);
      assert.equal(shown.owner, 'admin');
      assert.deepEqual(shown.properties ?? {}, doc.properties ?? {}, `${file}: properties`);
      const objects = (doc.objects ?? []).map((o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => !(Array.isArray(v) && v.length === 0))));
      const shownObjects = (shown.objects ?? []).map(({ created_at: _c, updated_at: _u, self: _s, schema: _m, required, ...o }: Record<string, unknown>) =>
        (required as unknown[]).length ? { ...o, required } : o,
      );
      assert.deepEqual(shownObjects, objects, `${file}: objects`);
      assert.deepEqual((shown.tags ?? []).map((t: { name: string }) => t.name).sort(), (doc.tags ?? []).map((t: { name: string }) => t.name).sort(), `${file}: tags`);
      const associations = (shown.resource_type_associations ?? []).map((a: Record<string, string>) => [a.name, a.prefix ?? null, a.properties_target ?? null]).sort();
      const expected = (doc.resource_type_associations ?? []).map((a: Record<string, string>) => [a.name, a.prefix ?? null, a.properties_target ?? null]).sort();
      assert.deepEqual(associations, expected, `${file}: associations`);
    }
    const types = (await api.get('/v2/metadefs/resource_types')).json.resource_types.map((r: { name: string }) => r.name).sort();
    assert.deepEqual(types, ['OS::Cinder::Volume', 'OS::Glance::Image', 'OS::Nova::Aggregate', 'OS::Nova::Flavor', 'OS::Nova::Server', 'OS::Trove::Instance']);
    assert.equal((await api.delete('/v2/metadefs/namespaces/OS::Compute::Libvirt')).status, 403, "Glance's files load protected namespaces");
  });

  it('round-trips export → unload → load to the same catalog', async () => {
    const before = await catalog();
    const exported = path.join(dir, 'export');
    assert.match(manage('metadefs', 'export', '--path', exported), /Exported 33 namespaces/);
    assert.match(manage('db', 'db_unload_metadefs'), /Removed every metadata definition/);
    assert.deepEqual((await api.get('/v2/metadefs/namespaces')).json.namespaces, []);
    assert.deepEqual((await api.get('/v2/metadefs/resource_types')).json.resource_types, []);
    assert.match(manage('db', 'load_metadefs', '--path', exported), /Loaded 33 namespaces/);
    assert.deepEqual(await catalog(), before);
  });

  it("exports files that Glance's own glance-manage db_load_metadefs loads", { skip: requireTool('glance-manage', () => existsSync('/usr/bin/glance-manage'), 'apt-get install glance-common') }, async () => {
    const exported = path.join(dir, 'for-glance');
    manage('metadefs', 'export', '--path', exported);
    const glanceDb = path.join(dir, 'glance.sqlite');
    const conf = path.join(dir, 'glance-manage.conf');
    writeFileSync(conf, `[database]\nconnection = sqlite:///${glanceDb}\n`);
    const run = (...args: string[]) => spawnSync('/usr/bin/glance-manage', ['--config-file', conf, ...args], { encoding: 'utf8' });
    assert.equal(run('db_sync').status, 0);
    const loaded = run('db_load_metadefs', `${exported}/`);
    assert.equal(loaded.status, 0, loaded.stderr);
    // Glance's tables now hold the same catalog: read them back through Glimpse.
    const server2 = await startTestServer({ auth: 'headers', database: `sqlite:///${glanceDb}` });
    try {
      const glanceLoaded = new Client(server2.url, ADMIN);
      const names = (await glanceLoaded.get('/v2/metadefs/namespaces?limit=1000')).json.namespaces.map((n: { namespace: string }) => n.namespace).sort();
      const ours = (await api.get('/v2/metadefs/namespaces?limit=1000')).json.namespaces.map((n: { namespace: string }) => n.namespace).sort();
      assert.deepEqual(names, ours);
      const libvirt = (await glanceLoaded.get('/v2/metadefs/namespaces/OS::Compute::Libvirt')).json;
      assert.deepEqual(libvirt.properties, (await api.get('/v2/metadefs/namespaces/OS::Compute::Libvirt')).json.properties);
    } finally {
      await server2.close();
    }
  });

  it('skips, merges, prefers new or overwrites existing namespaces as asked', async () => {
    const source = path.join(dir, 'changed');
    cpSync(path.join(GLANCE_METADEFS, 'compute-watchdog.json'), path.join(source, 'watchdog.json'), { recursive: true });
    const file = path.join(source, 'watchdog.json');
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    const [first] = Object.keys(doc.properties);
    doc.properties[first].title = 'Changed title';
    doc.properties.hw_new_thing = { title: 'New', type: 'string' };
    doc.description = 'Changed description';
    writeFileSync(file, JSON.stringify(doc));
    const ns = `/v2/metadefs/namespaces/${doc.namespace}`;
    const show = async () => (await api.get(ns)).json;

    assert.match(manage('metadefs', 'load', '--path', source), /skipped 1/);
    assert.equal('hw_new_thing' in (await show()).properties, false);
    manage('metadefs', 'load', '--path', source, '--merge');
    let shown = await show();
    assert.ok('hw_new_thing' in shown.properties, 'merge adds new children');
    assert.notEqual(shown.properties[first].title, 'Changed title', 'merge keeps existing children');
    assert.notEqual(shown.description, 'Changed description');
    manage('metadefs', 'load', '--path', source, '--merge', '--prefer-new');
    shown = await show();
    assert.equal(shown.properties[first].title, 'Changed title');
    assert.equal(shown.description, 'Changed description');
    await api.put(`${ns}/tags/extra`);
    await api.post(`${ns}/tags/extra`);
    manage('metadefs', 'load', '--path', source, '--merge', '--overwrite');
    assert.equal((await show()).tags, undefined, 'overwrite starts the namespace afresh');
    const bad = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'glimpse'), 'manage', 'metadefs', 'load', '--path', source, '--overwrite', '--database', database], { encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /need --merge/);
  });
});
