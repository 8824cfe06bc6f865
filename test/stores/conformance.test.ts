/** The store conformance suite (conformance.ts) over every backend: the reference, file, Swift and S3 stores. */
import { mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileStore } from '../../src/store/file-store.js';
import { S3Store } from '../../src/store/s3-store.js';
import { SwiftStore } from '../../src/store/swift-store.js';
import { S3_ENDPOINT, SWIFT_AUTH_URL, swift, swiftSkip } from '../helpers/swift.js';
import { storeConformance } from './conformance.js';
import { MemoryStore } from './memory-store.js';

storeConformance('in-memory reference store', false, async () => ({ store: new MemoryStore('memory'), foreignLocation: 'memory://elsewhere/x' }));

storeConformance('file store', false, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'glimpse-conformance-'));
  return {
    store: new FileStore('file', path.join(dir, 'images')),
    foreignLocation: `file://${path.join(dir, 'other', randomUUID())}`,
    close: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

storeConformance('file store, staging area', false, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'glimpse-conformance-'));
  return {
    store: new FileStore('os_glance_staging_store', path.join(dir, 'staging'), { directIo: false }),
    foreignLocation: `file://${path.join(dir, 'images', randomUUID())}`,
    close: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

const skipSwift = swiftSkip();

storeConformance('Swift store (small segments)', skipSwift, async () => {
  const container = `glimpse-conf-${randomUUID().slice(0, 8)}`;
  await swift('PUT', container);
  const store = new SwiftStore('swift', {
    auth: { url: SWIFT_AUTH_URL, version: '1', user: 'test:tester', key: 'testing' },
    reference: null,
    container,
    createContainer: true,
    largeObjectSize: 100 * 1024,
    chunkSize: 64 * 1024,
    tenancy: null,
  }, { storageUrlOf: null, heartbeatMs: 10_000 });
  return { store, foreignLocation: `swift+http://test%3Atester:testing@127.0.0.1:8080/auth/v1.0/other-${container}/${randomUUID()}` };
});

storeConformance('S3 store', skipSwift, async () => {
  const bucket = `glimpse-conf-${randomUUID().slice(0, 8)}`;
  const store = new S3Store('s3', {
    host: S3_ENDPOINT, accessKey: 'test:tester', secretKey: 'testing', bucket, createBucket: true, urlFormat: 'path', region: null, chunkSize: 5 * 1024 * 1024,
  }, { heartbeatMs: 10_000 });
  return { store, foreignLocation: `s3://test%3Atester:testing@127.0.0.1:8080/other-${bucket}/${randomUUID()}` };
});
