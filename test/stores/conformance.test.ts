/** The store conformance suite (conformance.ts) over every backend: the reference, file, Swift, S3 and RBD stores. */
import { mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileStore } from '../../src/store/file-store.js';
import { RbdStore } from '../../src/store/rbd-store.js';
import { S3Store } from '../../src/store/s3-store.js';
import { SwiftStore } from '../../src/store/swift-store.js';
import { CEPH_CONF, CEPH_POOL, CEPH_USER, cephSkip } from '../helpers/ceph.js';
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

const skipCeph = cephSkip();

storeConformance('RBD store (1 MiB objects)', skipCeph, async () => {
  const store = new RbdStore('rbd', { pool: CEPH_POOL, user: CEPH_USER, confFile: CEPH_CONF, chunkSize: 1024 * 1024, connectTimeout: 30, thin: false });
  return { store, foreignLocation: `rbd://00000000-0000-0000-0000-000000000000/${CEPH_POOL}/${randomUUID()}/snap`, close: () => store.close() };
});
