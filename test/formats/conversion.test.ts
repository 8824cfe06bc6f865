/**
 * The image_conversion import plugin with the real qemu-img: a staged qcow2
 * is imported as raw (the very bytes it was made from); hostile or
 * mislabelled data fetched by web-download (which, unlike `PUT /stage`, is
 * not inspected on arrival) is refused before qemu-img touches it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ALPHA_MEMBER, Client } from '../helpers/client.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { requireTool } from '../helpers/tools.js';
import { waitFor } from '../helpers/upload.js';

const skip = requireTool('qemu-img', () => spawnSync('qemu-img', ['--version']).status === 0, 'apt-get install qemu-utils');
const octets = { 'content-type': 'application/octet-stream' };

describe('image conversion on import', { skip }, () => {
  let server: TestServer;
  let api: Client;
  let origin: http.Server;
  const served = new Map<string, Buffer>();
  before(async () => {
    origin = http.createServer((req, res) => res.end(served.get(req.url ?? '') ?? Buffer.alloc(0)));
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    const port = (origin.address() as AddressInfo).port;
    server = await startTestServer({
      auth: 'headers',
      ini: `[image_import_opts]\nimage_import_plugins = ['image_conversion']\n[image_conversion]\noutput_format = raw\n[import_filtering_opts]\nallowed_hosts = 127.0.0.1\nallowed_ports = ${port}\n`,
    });
    api = new Client(server.url, ALPHA_MEMBER);
  });
  after(async () => {
    await server?.close();
    origin?.close();
  });

  const importFromUrl = async (bytes: Buffer, disk_format: string) => {
    const name = `/${randomBytes(4).toString('hex')}`;
    served.set(name, bytes);
    const image = await api.createImage({ disk_format, container_format: 'bare' });
    const uri = `http://127.0.0.1:${(origin.address() as AddressInfo).port}${name}`;
    assert.equal((await api.post(`/v2/images/${image.id}/import`, { method: { name: 'web-download', uri } })).status, 202);
    return settled(image.id);
  };

  const settled = async (id: string) => {
    let shown: Record<string, any> = {};
    await waitFor(async () => {
      shown = (await api.get(`/v2/images/${id}`)).json;
      return shown.status !== 'importing';
    }, 'the import');
    return shown;
  };

  const importStaged = async (file: string, disk_format: string) => {
    const image = await api.createImage({ disk_format, container_format: 'bare' });
    assert.equal((await api.put(`/v2/images/${image.id}/stage`, { raw: readFileSync(file), headers: octets })).status, 204);
    assert.equal((await api.post(`/v2/images/${image.id}/import`, { method: { name: 'glance-direct' } })).status, 202);
    return settled(image.id);
  };

  it('imports a qcow2 as the raw image it was made from', async () => {
    const raw = path.join(server.dataDir, 'source.raw');
    const qcow2 = path.join(server.dataDir, 'source.qcow2');
    const bytes = randomBytes(2 * 1024 * 1024);
    writeFileSync(raw, bytes);
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
    const shown = await importStaged(qcow2, 'qcow2');
    assert.equal(shown.status, 'active');
    assert.equal(shown.disk_format, 'raw');
    assert.equal(shown.glimpse_converted_from, 'qcow2', 'lineage: the format it arrived in');
    assert.equal((await api.get(`/v2/glimpse/images/${shown.id}/lineage`)).json.converted_from, 'qcow2');
    assert.equal(shown.size, bytes.length);
    assert.equal(shown.virtual_size, bytes.length);
    assert.equal(shown.checksum, createHash('md5').update(bytes).digest('hex'));
  });

  it('refuses a qcow2 with a backing file before converting it', async () => {
    const hostile = path.join(server.dataDir, 'hostile.qcow2');
    execFileSync('qemu-img', ['create', '-f', 'qcow2', '-u', '-b', '/etc/passwd', '-F', 'raw', hostile, '1M']);
    const shown = await importFromUrl(readFileSync(hostile), 'qcow2');
    assert.equal(shown.status, 'queued');
    assert.equal(shown.disk_format, 'qcow2');
    const [task] = (await api.get(`/v2/images/${shown.id}/tasks`)).json.tasks;
    assert.match(task.message, /Image has disallowed configuration: .*backing_file/);
  });

  it('refuses data that is not its declared format', async () => {
    const shown = await importFromUrl(randomBytes(100_000), 'qcow2');
    assert.equal(shown.status, 'queued');
    const [task] = (await api.get(`/v2/images/${shown.id}/tasks`)).json.tasks;
    assert.match(task.message, /does not match stream data raw/);
  });
});
