/** The real `openstack` CLI (Debian's python3-openstackclient) against a real Glimpse. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { OPENSTACK, openstackSkip } from '../helpers/tools.js';
import { waitFor } from '../helpers/upload.js';

const skip = openstackSkip();

describe('openstack CLI', { skip }, () => {
  let server: TestServer;
  // Asynchronous on purpose: the server runs in this very process. Standard
  // input is /dev/null: `image create` without --file uploads whatever stdin holds.
  const osc = (...args: string[]) =>
    new Promise<string>((resolve, reject) => {
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OS_')));
      const child = spawn(OPENSTACK, ['--os-auth-type', 'none', '--os-endpoint', server.url, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`openstack ${args.join(' ')} failed (${code}): ${stderr}`))));
    });
  const oscJson = async (...args: string[]) => JSON.parse(await osc(...args, '-f', 'json'));

  before(async () => {
    server = await startTestServer();
  });
  after(() => server?.close());

  it('creates a record from a script without a terminal: the empty standard input stores nothing, and the image waits for its data', async () => {
    // stdin is /dev/null, as under cron or CI: openstackclient uploads it, an empty body.
    const created = await oscJson('image', 'create', '--disk-format', 'raw', '--container-format', 'bare', 'scripted');
    assert.equal(created.name, 'scripted');
    const shown = await oscJson('image', 'show', created.id);
    assert.equal(shown.status, 'queued');
    const data = randomBytes(4096);
    const put = await fetch(`${server.url}/v2/images/${created.id}/file`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: data });
    assert.equal(put.status, 204, 'the record takes its data later');
    assert.equal((await oscJson('image', 'show', created.id)).status, 'active');
    await osc('image', 'delete', created.id);
  });

  it('hides a deprecated image from openstack image list, shows it with --hidden and by id', async () => {
    const created = await oscJson('image', 'create', '--disk-format', 'raw', '--container-format', 'ovf', '--property', 'glimpse_family=osc-family', 'deprecated-one');
    const res = await fetch(`${server.url}/v2/images/${created.id}/actions/deprecate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 200);
    const names = async (...extra: string[]) => (await oscJson('image', 'list', ...extra)).map((i: { Name: string }) => i.Name);
    assert.ok(!(await names()).includes('deprecated-one'));
    assert.ok((await names('--hidden')).includes('deprecated-one'));
    const shown = await oscJson('image', 'show', created.id);
    assert.equal(shown.properties.os_hidden, true);
    assert.match(shown.properties.glimpse_deprecated_at, /^\d{4}-/);
    await osc('image', 'delete', created.id);
  });

  it('creates, shows, lists, updates, deactivates and deletes images', async () => {
    // An ovf container: the empty body below is not format-inspected (as Glance, only bare images are).
    const created = await oscJson('image', 'create', '--disk-format', 'qcow2', '--container-format', 'ovf', '--property', 'k=v', '--tag', 't1', '--min-disk', '2', 'first');
    assert.equal(created.name, 'first');
    assert.equal(created.disk_format, 'qcow2');
    assert.equal(created.min_disk, 2);
    // openstackclient uploads an empty body when no --file is given (stdin is /dev/null)
    assert.equal((await oscJson('image', 'show', created.id)).status, 'active');
    const second = await oscJson('image', 'create', '--disk-format', 'raw', '--container-format', 'ovf', '--property', 'k=other', 'second');

    const shown = await oscJson('image', 'show', created.id);
    assert.equal(shown.id, created.id);
    assert.equal(shown.properties.k, 'v');
    assert.deepEqual(shown.tags, ['t1']);

    const all = await oscJson('image', 'list');
    assert.deepEqual(all.map((i: { Name: string }) => i.Name).sort(), ['first', 'second']);
    assert.deepEqual((await oscJson('image', 'list', '--property', 'k=v')).map((i: { ID: string }) => i.ID), [created.id]);
    assert.deepEqual((await oscJson('image', 'list', '--tag', 't1')).map((i: { ID: string }) => i.ID), [created.id]);
    assert.deepEqual((await oscJson('image', 'list', '--sort', 'name:desc')).map((i: { Name: string }) => i.Name), ['second', 'first']);
    const one = await oscJson('image', 'list', '--sort', 'name:asc', '--limit', '1');
    assert.equal(one.length, 1);
    const page = await oscJson('image', 'list', '--limit', '1', '--marker', second.id);
    assert.equal(page.length, 1);
    assert.notEqual(page[0].ID, second.id);

    await osc('image', 'set', '--property', 'a=b', '--tag', 't2', '--name', 'renamed', '--min-disk', '5', created.id);
    const updated = await oscJson('image', 'show', created.id);
    assert.equal(updated.name, 'renamed');
    assert.equal(updated.min_disk, 5);
    assert.equal(updated.properties.a, 'b');
    assert.deepEqual([...updated.tags].sort(), ['t1', 't2']);

    await osc('image', 'unset', '--property', 'a', created.id);
    assert.equal('a' in (await oscJson('image', 'show', created.id)).properties, false);

    await osc('image', 'set', '--deactivate', created.id);
    assert.equal((await oscJson('image', 'show', created.id)).status, 'deactivated');
    await osc('image', 'set', '--activate', created.id);
    assert.equal((await oscJson('image', 'show', created.id)).status, 'active');

    await osc('image', 'delete', created.id, second.id);
    assert.deepEqual(await oscJson('image', 'list'), []);
  });

  it('uploads a file and saves it back byte for byte', async () => {
    const source = path.join(server.dataDir, 'source.img');
    const data = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(source, data);
    const created = await oscJson('image', 'create', '--file', source, '--disk-format', 'raw', '--container-format', 'bare', '--property', 'k=v', 'with-data');
    const shown = await oscJson('image', 'show', created.id);
    assert.equal(shown.status, 'active');
    assert.equal(shown.size, data.length);
    // openstackclient lists os_hash_* among the properties
    assert.equal(shown.checksum, createHash('md5').update(data).digest('hex'));
    assert.equal(shown.properties.os_hash_algo, 'sha512');
    assert.equal(shown.properties.os_hash_value, createHash('sha512').update(data).digest('hex'));
    const saved = path.join(server.dataDir, 'saved.img');
    await osc('image', 'save', '--file', saved, created.id);
    assert.ok(readFileSync(saved).equals(data));
  });
});

describe('openstack and glance CLIs with interoperable import', { skip }, () => {
  let server: TestServer;
  let origin: http.Server;
  const data = randomBytes(2 * 1024 * 1024 + 5);
  const run = (cmd: string, args: string[]) =>
    new Promise<string>((resolve, reject) => {
      // A HOME of its own: glanceclient builds options from a cached image schema, and the cached copy of
      // Glance's (or Glimpse's) schema, which has `stores`, clashes with its own --stores (a glanceclient bug).
      const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OS_'))), HOME: server.dataDir };
      const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${cmd} ${args.join(' ')} failed (${code}): ${stderr}`))));
    });
  const activeImage = async (id: string) => {
    let image: Record<string, any> = {};
    await waitFor(async () => {
      image = await (await fetch(`${server.url}/v2/images/${id}`)).json();
      return image.status === 'active' || image.status === 'queued';
    }, `image ${id} imported`);
    return image;
  };

  before(async () => {
    origin = http.createServer((_req, res) => res.end(data));
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    const port = (origin.address() as AddressInfo).port;
    server = await startTestServer({ ini: `[import_filtering_opts]\nallowed_hosts = 127.0.0.1\nallowed_ports = ${port}\n` });
  });
  after(async () => {
    await server?.close();
    origin?.close();
  });

  it('openstack image create --import stages the file and imports it with glance-direct', async () => {
    const source = path.join(server.dataDir, 'to-import.img');
    writeFileSync(source, data);
    const out = await run(OPENSTACK, ['--os-auth-type', 'none', '--os-endpoint', server.url, 'image', 'create', '--import', '--file', source, '--disk-format', 'raw', '--container-format', 'bare', 'imported', '-f', 'json']);
    const image = await activeImage(JSON.parse(out).id);
    assert.equal(image.status, 'active');
    assert.equal(image.checksum, createHash('md5').update(data).digest('hex'));
    const tasks = (await (await fetch(`${server.url}/v2/images/${image.id}/tasks`)).json()).tasks;
    assert.equal(tasks[0].input.import_req.method.name, 'glance-direct');
  });

  it('glance image-create-via-import imports from a URL with web-download', async () => {
    const uri = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/disk.raw`;
    // glanceclient sends stdin as the image unless fd 0 is closed (<&-).
    const out = await run('/bin/sh', ['-c', 'exec "$0" "$@" <&-', '/usr/bin/glance', '--os-image-url', server.url, '--os-auth-token', 'unused', 'image-create-via-import', '--import-method', 'web-download', '--uri', uri, '--disk-format', 'raw', '--container-format', 'bare', '--name', 'from-url']);
    const id = /\|\s+id\s+\|\s+([0-9a-f-]{36})/.exec(out)?.[1];
    assert.ok(id, out);
    const image = await activeImage(id);
    assert.equal(image.status, 'active');
    assert.equal(image.size, data.length);
  });
  it("shows glanceclient Glance's 409 for an upload to an active image, not a broken pipe", async () => {
    const created = await (await fetch(`${server.url}/v2/images`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ disk_format: 'raw', container_format: 'bare' }) })).json();
    const put = await fetch(`${server.url}/v2/images/${created.id}/file`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(4096).fill(1) });
    assert.equal(put.status, 204);
    const big = path.join(server.dataDir, 'again.raw');
    writeFileSync(big, Buffer.alloc(64 * 1024 * 1024, 2));
    const result = await new Promise<{ code: number | null; out: string }>((resolve) => {
      // A HOME of its own, empty: glanceclient's cached schema would clash with its own --stores (see below).
      const home = mkdtempSync(path.join(server.dataDir, 'home-'));
      const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OS_'))), HOME: home };
      const child = spawn('/usr/bin/glance', ['--os-image-url', server.url, '--os-auth-token', 'unused', 'image-upload', '--file', big, created.id], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('close', (code) => resolve({ code, out }));
    });
    assert.notEqual(result.code, 0);
    assert.match(result.out, /409 Conflict/);
    assert.doesNotMatch(result.out, /Broken pipe/i);
  });
});
