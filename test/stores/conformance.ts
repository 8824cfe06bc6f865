/**
 * What every ImageStore promises (src/store/image-store.ts), checked the same
 * way on each backend: whole and ranged reads byte for byte, a failed or
 * aborted add that leaves nothing, a second add of one image refused, delete
 * idempotent, location ownership, and the optional capabilities a backend
 * declares (listing, locations by id, writers, local paths).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { GlimpseError } from '../../src/domain/errors.js';
import type { ImageStore } from '../../src/store/image-store.js';

export interface StoreUnderTest {
  store: ImageStore;
  /** A location of the same kind that this store does not own (another container, directory or host). */
  foreignLocation: string;
  close?(): Promise<void>;
}

const KiB = 1024;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The bytes in chunks of uneven sizes, as a network delivers them. */
function chunked(bytes: Buffer): Readable {
  const chunks: Buffer[] = [];
  for (let at = 0, n = 1; at < bytes.length; at += n, n = (n * 7 + 13) % 70_000 || 1) chunks.push(bytes.subarray(at, Math.min(bytes.length, at + n)));
  return Readable.from(chunks);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function failingAfter(bytes: number, failure: () => void): Readable {
  return Readable.from(
    (async function* () {
      yield randomBytes(bytes);
      failure();
      yield randomBytes(KiB);
    })(),
  );
}

async function assertGone(store: ImageStore, location: string): Promise<void> {
  await assert.rejects(store.get(location).then(readAll), (err: unknown) => err instanceof GlimpseError && err.kind === 'not_found');
}

export function storeConformance(name: string, skip: string | false, open: () => Promise<StoreUnderTest>): void {
  describe(`ImageStore conformance: ${name}`, { skip }, () => {
    let subject: StoreUnderTest;
    before(async () => {
      subject = await open();
    });
    after(() => subject?.close?.());

    it('stores bytes and serves them whole and in inclusive ranges', async () => {
      const { store } = subject;
      const bytes = randomBytes(300 * KiB + 7);
      const id = randomUUID();
      const { location, size } = await store.add(id, chunked(bytes), { size: bytes.length });
      assert.equal(size, bytes.length);
      assert.ok(store.owns(location), `${store.type} owns ${location}`);
      assert.equal(sha(await readAll(await store.get(location))), sha(bytes));
      for (const [start, end] of [[0, 0], [10, 19], [64 * KiB - 3, 64 * KiB + 3], [bytes.length - 1, bytes.length - 1], [0, bytes.length - 1]]) {
        assert.ok((await readAll(await store.get(location, { start, end }))).equals(bytes.subarray(start, end + 1)), `bytes ${start}-${end}`);
      }
      await store.delete(location);
    });

    it('stores an empty image, and one whose size was not announced', async () => {
      const { store } = subject;
      const empty = await store.add(randomUUID(), Readable.from([]), { size: 0 });
      assert.equal(empty.size, 0);
      assert.equal((await readAll(await store.get(empty.location))).length, 0);
      const bytes = randomBytes(50 * KiB);
      const unsized = await store.add(randomUUID(), chunked(bytes));
      assert.ok((await readAll(await store.get(unsized.location))).equals(bytes));
      await store.delete(empty.location);
      await store.delete(unsized.location);
    });

    it('refuses a second add of one image with a conflict, keeping the first', async () => {
      const { store } = subject;
      const id = randomUUID();
      const first = await store.add(id, Readable.from([Buffer.from('first')]));
      await assert.rejects(store.add(id, Readable.from([Buffer.from('second')])), (err: unknown) => err instanceof GlimpseError && err.kind === 'conflict');
      assert.equal((await readAll(await store.get(first.location))).toString(), 'first');
      await store.delete(first.location);
    });

    it('leaves nothing when the source fails mid-way, and the image can be written again', async () => {
      const { store } = subject;
      const id = randomUUID();
      await assert.rejects(store.add(id, failingAfter(200 * KiB, () => {
        throw new Error('client went away');
      })), /client went away/);
      if (store.imageIds) assert.ok(!(await store.imageIds()).includes(id), 'not listed');
      const again = await store.add(id, Readable.from([Buffer.from('retry')]));
      assert.equal((await readAll(await store.get(again.location))).toString(), 'retry');
      await store.delete(again.location);
    });

    it('leaves nothing when the add is aborted', async () => {
      const { store } = subject;
      const id = randomUUID();
      const abort = new AbortController();
      await assert.rejects(store.add(id, failingAfter(200 * KiB, () => abort.abort()), { signal: abort.signal }));
      if (store.imageIds) assert.ok(!(await store.imageIds()).includes(id), 'not listed');
      if (store.locationOf) await assertGone(store, store.locationOf(id));
    });

    it('deletes idempotently: twice, and data that never existed', async () => {
      const { store } = subject;
      const { location } = await store.add(randomUUID(), Readable.from([Buffer.from('bytes')]));
      await store.delete(location);
      await assertGone(store, location);
      await store.delete(location);
      if (store.locationOf) await store.delete(store.locationOf(randomUUID()));
    });

    it('owns only its own locations', () => {
      const { store, foreignLocation } = subject;
      assert.equal(store.owns(foreignLocation), false, foreignLocation);
      assert.equal(store.owns('http://example.com/image'), false);
    });

    it('keeps its optional capabilities consistent with what it holds', async (t) => {
      const { store } = subject;
      if (!store.imageIds && !store.locationOf && !store.writing && !store.localPath) return t.skip(`${store.type} declares no optional capability`);
      const id = randomUUID();
      const bytes = randomBytes(10 * KiB);
      const { location } = await store.add(id, Readable.from([bytes]));
      if (store.locationOf) assert.equal(store.locationOf(id), location);
      if (store.imageIds) assert.ok((await store.imageIds()).includes(id));
      if (store.writing) assert.equal(await store.writing(id), false, 'no writer once the add resolved');
      if (store.localPath) {
        const file = store.localPath(location);
        assert.ok(file && readFileSync(file).equals(bytes));
        assert.equal(store.localPath(subject.foreignLocation), null);
      }
      await store.delete(location);
      if (store.imageIds) assert.ok(!(await store.imageIds()).includes(id));
      if (store.localPath) assert.equal(existsSync(store.localPath(location)!), false);
    });
  });
}
