/**
 * The single pass every incoming image takes on its way to a store: byte
 * counting against a limit, md5 `checksum` and the `os_hash_algo` digest, and
 * (for uploads) the disk-format inspection, all while the bytes stream
 * through, without buffering the image. An inspection verdict against the
 * image fails the stream before the store makes the data visible.
 */
import { createHash, getHashes } from 'node:crypto';
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
 * One digest computed on a worker thread. At most `window` bytes wait in the
 * worker, so memory stays flat.
 */
class DigestWorker {
  private readonly worker: Worker;
  private pending = 0;
  private wake: (() => void) | null = null;
  private final: ((hex: string) => void) | null = null;

  constructor(
    algorithm: string,
    private readonly window: number,
  ) {
    this.worker = new Worker(new URL('./hash-worker.js', import.meta.url), { workerData: { algorithm } });
    this.worker.on('message', (m: number | { digest: string }) => {
      if (typeof m !== 'number') return this.final?.(m.digest);
      this.pending -= m;
      if (this.pending <= this.window && this.wake) {
        const wake = this.wake;
        this.wake = null;
        wake();
      }
    });
  }

  /** Resolves once the worker has room again, when it is behind by more than the window. */
  update(chunk: Buffer): Promise<void> | void {
    this.pending += chunk.length;
    this.worker.postMessage(chunk);
    if (this.pending > this.window) return new Promise((resolve) => (this.wake = resolve));
  }

  digest(): Promise<string> {
    return new Promise((resolve) => {
      this.final = resolve;
      this.worker.postMessage('end');
    });
  }

  dispose(): void {
    void this.worker.terminate();
  }
}

/**
 * Hashes off the event loop, md5 and the configured digest each on its own
 * worker thread: the event loop keeps moving bytes between the socket and
 * the store while the other cores hash. A single worker doing both digests
 * one after the other was the ceiling of large uploads (~290 MB/s here,
 * against ~400 MB/s for the two digests in one pass and more in two).
 */
class WorkerHasher implements Hasher {
  private readonly md5: DigestWorker;
  private readonly digest: DigestWorker;

  constructor(
    private readonly algorithm: string,
    window = 8 * 1024 * 1024,
  ) {
    this.md5 = new DigestWorker('md5', window);
    this.digest = new DigestWorker(algorithm, window);
  }

  update(chunk: Buffer): Promise<void> | void {
    const a = this.md5.update(chunk);
    const b = this.digest.update(chunk);
    if (a || b) return Promise.all([a, b]).then(() => undefined);
  }

  async result(): Promise<Digests> {
    const [checksum, value] = await Promise.all([this.md5.digest(), this.digest.digest()]);
    this.dispose();
    return { checksum, os_hash_algo: this.algorithm, os_hash_value: value };
  }

  dispose(): void {
    this.md5.dispose();
    this.digest.dispose();
  }
}

/**
 * Bytes are copied once, from the source's chunks (64 KiB from a socket)
 * into blocks of this size, shared with the hashing workers (no copy per
 * worker) and handed to the store as they are: a sixteenth of the messages,
 * callbacks and write calls.
 */
const BLOCK_SIZE = 1024 * 1024;

/** Uploads at least this large (when the size is known) hash on a worker thread. */
const OFF_THREAD_FROM = 64 * 1024 * 1024;

export class HashingCounter extends Transform {
  private readonly hasher: Hasher;
  private readonly inspector: FormatInspector | null;
  /** The block being filled: bytes move on in blocks of BLOCK_SIZE, whatever size the source's chunks are. */
  private block: Buffer | null = null;
  private filled = 0;
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
    const full: Buffer[] = [];
    for (let offset = 0; offset < chunk.length; ) {
      this.block ??= Buffer.from(new SharedArrayBuffer(BLOCK_SIZE));
      const n = chunk.copy(this.block, this.filled, offset);
      offset += n;
      this.filled += n;
      if (this.filled === BLOCK_SIZE) {
        full.push(this.block);
        this.block = null;
        this.filled = 0;
      }
    }
    this.emit_(full).then(() => done(), done);
  }

  /** The last byte has passed: the inspection's verdict decides whether the stream ends well. */
  override _flush(done: TransformCallback): void {
    try {
      if (this.inspector) this.inspect?.check(this.inspector.finish());
    } catch (err) {
      done(err as Error);
      return;
    }
    const last = this.block && this.filled > 0 ? [this.block.subarray(0, this.filled)] : [];
    this.block = null;
    this.emit_(last).then(() => done(), done);
  }

  /** Hashes and passes on whole blocks, waiting whenever the hashing workers are a window behind. */
  private async emit_(blocks: Buffer[]): Promise<void> {
    for (const block of blocks) {
      await this.hasher.update(block);
      this.push(block);
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

export function assertHashAlgorithm(name: string): void {
  if (!getHashes().includes(name)) throw new Error(`hashing_algorithm "${name}" is not available`);
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
