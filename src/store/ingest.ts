/**
 * The single pass every incoming image takes on its way to a store: byte
 * counting against a limit, md5 `checksum` and the `os_hash_algo` digest, and
 * (for uploads) the disk-format inspection, all while the bytes stream
 * through, without buffering the image. An inspection verdict against the
 * image fails the stream before the store makes the data visible.
 */
import { createHash } from 'node:crypto';
import { type Readable, Transform, type TransformCallback, pipeline } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { tooLarge } from '../domain/errors.js';
import { FormatInspector, type InspectionReport } from '../formats/inspector.js';
import type { ProbeOptions } from '../formats/probe.js';
import type { ImageStore, StoreCaller } from './image-store.js';

export interface IngestResult {
  location: string;
  size: number;
  checksum: string;
  os_hash_algo: string;
  os_hash_value: string;
}

export interface IngestOptions {
  hashingAlgorithm: string;
  /** The size the client announced, if any. */
  expectedSize?: number | null;
  /** Bytes beyond this many fail the write with 413 as soon as they arrive. */
  maxBytes: number;
  limitMessage: string;
  signal?: AbortSignal;
  /** For multi-tenant stores: the account and token the data is written with. */
  caller?: StoreCaller;
  /** Inspect the bytes; `check` sees the report at the end of the stream and throws to refuse the image. */
  inspect?: { options: ProbeOptions; check(report: InspectionReport): void };
}

export interface Digests {
  checksum: string;
  os_hash_algo: string;
  os_hash_value: string;
}

/** md5 and the configured digest over every byte passed to `update`. */
interface Hasher {
  update(chunk: Buffer): Promise<void> | void;
  result(): Promise<Digests>;
  dispose(): void;
}

class InlineHasher implements Hasher {
  private readonly md5 = createHash('md5');
  private readonly digest;
  constructor(private readonly algorithm: string) {
    this.digest = createHash(algorithm);
  }
  update(chunk: Buffer): void {
    this.md5.update(chunk);
    this.digest.update(chunk);
  }
  async result(): Promise<Digests> {
    return { checksum: this.md5.digest('hex'), os_hash_algo: this.algorithm, os_hash_value: this.digest.digest('hex') };
  }
  dispose(): void {}
}

/**
 * Hashes off the event loop, md5 and the configured digest each on its own
 * worker thread, so the event loop keeps moving bytes between the socket and
 * the store while the other cores hash (one worker doing both digests was
 * the ceiling of large uploads: ~290 MB/s here).
 *
 * Bytes reach the workers through a fixed pool of shared 1 MiB blocks: the
 * event loop copies each chunk once into the block being filled and posts
 * full blocks to both workers, which read the same memory; a block is
 * refilled once both have acknowledged it. Memory is the pool, whatever the
 * image size (shared buffers are not left to the workers' garbage
 * collectors, which hardly run), and when the workers are a pool behind, the
 * upload waits for them.
 */
class WorkerHasher implements Hasher {
  private readonly workers: Worker[];
  private readonly blocks: Buffer[] = [];
  /** Per block: how many workers have yet to acknowledge it. */
  private readonly pending: number[] = [];
  private readonly free: number[] = [];
  private wake: (() => void) | null = null;
  private current: number | null = null;
  private filled = 0;
  private readonly digests: ((hex: string) => void)[] = [];

  constructor(
    private readonly algorithm: string,
    poolSize = 4,
  ) {
    this.workers = ['md5', algorithm].map((name, i) => {
      const worker = new Worker(new URL('./hash-worker.js', import.meta.url), { workerData: { algorithm: name } });
      worker.on('message', (m: number | { digest: string }) => (typeof m === 'number' ? this.acknowledged(m) : this.digests[i]?.(m.digest)));
      return worker;
    });
    for (let id = 0; id < poolSize; id++) {
      this.blocks.push(Buffer.from(new SharedArrayBuffer(BLOCK_SIZE)));
      this.pending.push(0);
      this.free.push(id);
    }
  }

  update(chunk: Buffer): Promise<void> | void {
    if (this.current !== null && this.filled + chunk.length < BLOCK_SIZE) {
      chunk.copy(this.blocks[this.current], this.filled);
      this.filled += chunk.length;
      return;
    }
    return this.fill(chunk);
  }

  private async fill(chunk: Buffer): Promise<void> {
    for (let offset = 0; offset < chunk.length; ) {
      if (this.current === null) {
        while (this.free.length === 0) await new Promise<void>((resolve) => (this.wake = resolve));
        this.current = this.free.pop()!;
        this.filled = 0;
      }
      const n = chunk.copy(this.blocks[this.current], this.filled, offset);
      offset += n;
      this.filled += n;
      if (this.filled === BLOCK_SIZE) this.dispatch();
    }
  }

  /** Hands the current block, as far as it is filled, to both workers. */
  private dispatch(): void {
    const id = this.current!;
    this.current = null;
    this.pending[id] = this.workers.length;
    const bytes = this.blocks[id].subarray(0, this.filled);
    for (const worker of this.workers) worker.postMessage({ id, bytes });
  }

  private acknowledged(id: number): void {
    if (--this.pending[id] > 0) return;
    this.free.push(id);
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  async result(): Promise<Digests> {
    if (this.current !== null && this.filled > 0) this.dispatch();
    const [checksum, value] = await Promise.all(
      this.workers.map(
        (worker, i) =>
          new Promise<string>((resolve) => {
            this.digests[i] = resolve;
            worker.postMessage('end');
          }),
      ),
    );
    this.dispose();
    return { checksum, os_hash_algo: this.algorithm, os_hash_value: value };
  }

  dispose(): void {
    for (const worker of this.workers) void worker.terminate();
  }
}

/** The size of the shared blocks that carry bytes to the hashing workers. */
const BLOCK_SIZE = 1024 * 1024;

/** Uploads at least this large (when the size is known) hash on worker threads. */
const OFF_THREAD_FROM = 64 * 1024 * 1024;

export class HashingCounter extends Transform {
  private readonly hasher: Hasher;
  private readonly inspector: FormatInspector | null;
  bytes = 0;

  constructor(
    readonly algorithm: string,
    private readonly maxBytes: number,
    private readonly limitMessage: string,
    expectedSize: number | null = null,
    private readonly inspect: IngestOptions['inspect'] = undefined,
  ) {
    super({ highWaterMark: 1024 * 1024 });
    this.hasher = expectedSize !== null && expectedSize >= OFF_THREAD_FROM ? new WorkerHasher(algorithm) : new InlineHasher(algorithm);
    this.inspector = inspect ? new FormatInspector(inspect.options) : null;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      done(tooLarge(this.limitMessage));
      return;
    }
    this.inspector?.feed(chunk);
    const waiting = this.hasher.update(chunk);
    if (waiting) waiting.then(() => done(null, chunk), done);
    else done(null, chunk);
  }

  /** The last byte has passed: the inspection's verdict decides whether the stream ends well. */
  override _flush(done: TransformCallback): void {
    try {
      if (this.inspector) this.inspect?.check(this.inspector.finish());
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    if (err) this.hasher.dispose();
    cb(err);
  }

  result(): Promise<Digests> {
    return this.hasher.result();
  }

  /** Stops hashing without a result (the write failed after all the bytes went through). */
  dispose(): void {
    this.hasher.dispose();
  }
}

export async function ingest(store: ImageStore, imageId: string, data: Readable, options: IngestOptions): Promise<IngestResult> {
  const counter = new HashingCounter(options.hashingAlgorithm, options.maxBytes, options.limitMessage, options.expectedSize ?? null, options.inspect);
  // Errors are handled from the first byte on, even before the store starts
  // reading; the first one (e.g. the size limit) is the one reported.
  let sourceError: Error | null = null;
  pipeline(data, counter, (err) => {
    if (err) sourceError ??= err;
  });
  try {
    const stored = await store.add(imageId, counter, { signal: options.signal, size: options.expectedSize ?? null, caller: options.caller });
    return { location: stored.location, size: counter.bytes, ...(await counter.result()) };
  } catch (err) {
    counter.dispose();
    throw sourceError ?? err;
  }
}
