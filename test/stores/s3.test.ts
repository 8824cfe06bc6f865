/**
 * The S3 store against a real S3 API (Swift's s3api in ../shared/swift):
 * SigV4-signed requests, one PutObject for an image within one part, a
 * multipart upload beyond, byte-identical downloads and ranges, deletes
 * that leave nothing (multipart segments included), glance_store's URIs.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { S3Store } from '../../src/store/s3-store.js';
import { Client } from '../helpers/client.js';
import { hostileQcow2 } from '../helpers/images.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { S3_ENDPOINT, objectNames, s3StoreIni, swiftSkip } from '../helpers/swift.js';

const MiB = 1024 * 1024;

describe('S3 store', { skip: swiftSkip() }, () => {
  const bucket = `glimpse-${randomUUID().slice(0, 8)}`;
  let server: TestServer;
  let api: Client;

  before(async () => {
    server = await startTestServer({
      ini: `[DEFAULT]\nshow_multiple_locations = true\n${s3StoreIni(bucket)}`,
    });
    api = new Client(server.url);
  });
  after(() => server?.close());

  it('stores a small image as one object at glance_store\'s location and serves it whole and in ranges', async () => {
    const data = randomBytes(100_000);
    const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    assert.equal((await api.upload(image.id, data)).status, 204);
    const shown = (await api.get(`/v2/images/${image.id}`)).json;
    assert.equal(shown.checksum, createHash('md5').update(data).digest('hex'));
    assert.deepEqual(shown.locations.map((l: { url: string }) => l.url), [`s3://test%3Atester:testing@127.0.0.1:8080/${bucket}/${image.id}`]);
    assert.deepEqual(await objectNames(bucket, image.id), [image.id]);
    assert.ok(Buffer.from(await (await fetch(`${server.url}/v2/images/${image.id}/file`)).arrayBuffer()).equals(data));
    const range = await fetch(`${server.url}/v2/images/${image.id}/file`, { headers: { range: 'bytes=10-19' } });
    assert.equal(range.status, 206);
    assert.ok(Buffer.from(await range.arrayBuffer()).equals(data.subarray(10, 20)));
    await api.delete(`/v2/images/${image.id}`);
    assert.deepEqual(await objectNames(bucket, image.id), []);
  });

  it('uploads an image larger than one part as a multipart upload, and deletes it with its parts', async () => {
    const data = randomBytes(12 * MiB + 123); // three parts of 5 MiB at most
    const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    assert.equal((await api.upload(image.id, data)).status, 204);
    assert.deepEqual(await objectNames(`${bucket}+segments`, image.id).then((n) => n.length), 3, 'three parts (s3api keeps them as segments)');
    const shown = (await api.get(`/v2/images/${image.id}`)).json;
    assert.equal(shown.size, data.length);
    assert.equal(shown.os_hash_value, createHash('sha512').update(data).digest('hex'));
    assert.ok(Buffer.from(await (await fetch(`${server.url}/v2/images/${image.id}/file`)).arrayBuffer()).equals(data));
    const across = await fetch(`${server.url}/v2/images/${image.id}/file`, { headers: { range: `bytes=${5 * MiB - 5}-${5 * MiB + 4}` } });
    assert.ok(Buffer.from(await across.arrayBuffer()).equals(data.subarray(5 * MiB - 5, 5 * MiB + 5)), 'a range across two parts');
    await api.delete(`/v2/images/${image.id}`);
    assert.deepEqual(await objectNames(bucket, image.id), []);
    assert.deepEqual(await objectNames(`${bucket}+segments`, image.id), []);
  });

  it('refuses a second write of the same image, and a hostile image leaves no object', async () => {
    const store = new S3Store('s3', { host: S3_ENDPOINT, accessKey: 'test:tester', secretKey: 'testing', bucket, createBucket: false, urlFormat: 'path', region: null, chunkSize: 5 * MiB }, { heartbeatMs: 10_000 });
    const id = randomUUID();
    const written = await store.add(id, Readable.from([Buffer.from('once')]));
    await assert.rejects(store.add(id, Readable.from([Buffer.from('twice')])), /already exists/);
    await store.delete(written.location);
    await store.delete(written.location); // idempotent

    const qcow2 = hostileQcow2();
    const image = await api.createImage({ disk_format: 'qcow2', container_format: 'bare' });
    assert.equal((await api.upload(image.id, qcow2)).status, 415);
    assert.deepEqual(await objectNames(bucket, image.id), []);
  });
});
