/**
 * The Swift store against a real Swift (../shared/swift all-in-one, tempauth):
 * uploads through the HTTP API land as objects named by image id, large ones
 * as Static Large Objects in segments; downloads (whole and ranged) are
 * byte-identical; deletes leave nothing behind; DLOs as Glance writes them are
 * read and deleted too; location URIs are glance_store's.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { SwiftStore } from '../../src/store/swift-store.js';
import { Client } from '../helpers/client.js';
import { hostileQcow2 } from '../helpers/images.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { SWIFT_AUTH_URL as AUTH_URL, objectNames, swift, swiftSkip, swiftStoreIni } from '../helpers/swift.js';

describe('Swift store', { skip: swiftSkip() }, () => {
  const container = `glimpse-${randomUUID().slice(0, 8)}`;
  let server: TestServer;
  let api: Client;
  const names = (prefix = '') => objectNames(container, prefix);

  before(async () => {
    server = await startTestServer({
      ini: `[DEFAULT]\nshow_multiple_locations = true\n${swiftStoreIni(container)}`,
    });
    api = new Client(server.url);
  });
  after(() => server?.close());

  it('stores an image as one object named by its id, at glance_store\'s location, and serves it whole and in ranges', async () => {
    const data = randomBytes(300_000);
    const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    assert.equal((await api.upload(image.id, data)).status, 204);
    const shown = (await api.get(`/v2/images/${image.id}`)).json;
    assert.equal(shown.status, 'active');
    assert.equal(shown.size, data.length);
    assert.equal(shown.checksum, createHash('md5').update(data).digest('hex'));
    assert.deepEqual(shown.locations.map((l: { url: string }) => l.url), [`swift+http://test%3Atester:testing@127.0.0.1:8080/auth/v1.0/${container}/${image.id}`]);
    assert.deepEqual(await names(image.id), [image.id]);
    const download = await fetch(`${server.url}/v2/images/${image.id}/file`);
    assert.ok(Buffer.from(await download.arrayBuffer()).equals(data));
    const range = await fetch(`${server.url}/v2/images/${image.id}/file`, { headers: { range: 'bytes=1000-1999' } });
    assert.equal(range.status, 206);
    assert.ok(Buffer.from(await range.arrayBuffer()).equals(data.subarray(1000, 2000)));
    assert.equal((await api.delete(`/v2/images/${image.id}`)).status, 204);
    assert.deepEqual(await names(image.id), []);
  });

  it('writes an image of unknown size as a Static Large Object in segments, and deletes every segment', async () => {
    const data = randomBytes(3_500_000); // four segments of 1,024,000 bytes at most
    const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    const res = await fetch(`${server.url}/v2/images/${image.id}/file`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: Readable.toWeb(Readable.from([data.subarray(0, 1_000_000), data.subarray(1_000_000)])) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 204, await res.text());
    const segments = await names(`${image.id}-`);
    assert.deepEqual(segments, [1, 2, 3, 4].map((n) => `${image.id}-0000${n}`));
    const head = await swift('HEAD', `${container}/${image.id}`);
    assert.equal(head.headers.get('x-static-large-object')?.toLowerCase(), 'true');
    const shown = (await api.get(`/v2/images/${image.id}`)).json;
    assert.equal(shown.size, data.length);
    assert.equal(shown.os_hash_value, createHash('sha512').update(data).digest('hex'));
    const back = Buffer.from(await (await fetch(`${server.url}/v2/images/${image.id}/file`)).arrayBuffer());
    assert.ok(back.equals(data));
    const tail = await fetch(`${server.url}/v2/images/${image.id}/file`, { headers: { range: 'bytes=-10' } });
    assert.ok(Buffer.from(await tail.arrayBuffer()).equals(data.subarray(-10)));
    await api.delete(`/v2/images/${image.id}`);
    assert.deepEqual(await names(image.id), []);
  });

  it('refuses a hostile image and leaves nothing in the container', async () => {
    const qcow2 = hostileQcow2();
    const image = await api.createImage({ disk_format: 'qcow2', container_format: 'bare' });
    assert.equal((await api.upload(image.id, qcow2)).status, 415);
    assert.deepEqual(await names(image.id), []);
  });

  it('reads and deletes Dynamic Large Objects as Glance writes them, and takes swift+config references', async () => {
    const id = randomUUID();
    const parts = [randomBytes(5000), randomBytes(3000)];
    await swift('PUT', `${container}/${id}-00001`, {}, parts[0]);
    await swift('PUT', `${container}/${id}-00002`, {}, parts[1]);
    await swift('PUT', `${container}/${id}`, { 'x-object-manifest': `${container}/${id}-` }, '');
    const refs = path.join(server.dataDir, 'swift-refs.conf');
    writeFileSync(refs, `[ref1]\nauth_address = ${AUTH_URL}\nuser = test:tester\nkey = testing\nauth_version = 1\n`);
    const store = new SwiftStore('swift', {
      auth: { url: AUTH_URL, version: '1', user: 'test:tester', key: 'testing' },
      reference: 'ref1',
      container,
      createContainer: false,
      largeObjectSize: 10 ** 9,
      chunkSize: 10 ** 6,
      tenancy: null,
    }, { storageUrlOf: null, heartbeatMs: 10_000 });
    const location = `swift+config://ref1/${container}/${id}`;
    assert.ok(store.owns(location));
    const chunks: Buffer[] = [];
    for await (const c of await store.get(location)) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(Buffer.concat(parts)));
    await store.delete(location);
    assert.deepEqual(await names(id), []);
    await store.delete(location); // idempotent
    const written = await store.add(randomUUID(), Readable.from([Buffer.from('small')]), { size: 5 });
    assert.match(written.location, new RegExp(`^swift\\+config://ref1/${container}/[0-9a-f-]{36}$`));
    assert.equal(written.size, 5);
    await store.delete(written.location);
    assert.ok(readFileSync(refs, 'utf8').includes('ref1'));
  });
});
