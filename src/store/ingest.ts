/**
 * The single pass every incoming image takes on its way to a store: byte
 * counting against a limit, md5 `checksum` and the `os_hash_algo` digest, all
 * computed while the bytes stream through, without buffering the image.
 */
import { createHash, getHashes } from 'node:crypto';
import { type Readable, Transform, type TransformCallback, pipeline } from 'node:stream';
import { tooLarge } from '../domain/errors.js';
import type { ImageStore } from './image-store.js';

export interface IngestResult {
  location: string;
  size: number;
  checksum: string;
  os_hash_algo: string;
  os_hash_value: string;
}

export interface IngestOptions {
  hashingAlgorithm: string;
  /** Bytes beyond this many fail the write with 413 as soon as they arrive. */
  maxBytes: number;
  limitMessage: string;
  signal?: AbortSignal;
}

export class HashingCounter extends Transform {
  private readonly md5 = createHash('md5');
  private readonly digest;
  bytes = 0;

  constructor(
    readonly algorithm: string,
    private readonly maxBytes: number,
    private readonly limitMessage: string,
  ) {
    super({ highWaterMark: 1024 * 1024 });
    this.digest = createHash(algorithm);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      done(tooLarge(this.limitMessage));
      return;
    }
    this.md5.update(chunk);
    this.digest.update(chunk);
    done(null, chunk);
  }

  result() {
    return { checksum: this.md5.digest('hex'), os_hash_algo: this.algorithm, os_hash_value: this.digest.digest('hex') };
  }
}

export function assertHashAlgorithm(name: string): void {
  if (!getHashes().includes(name)) throw new Error(`hashing_algorithm "${name}" is not available`);
}

export async function ingest(store: ImageStore, imageId: string, data: Readable, options: IngestOptions): Promise<IngestResult> {
  const counter = new HashingCounter(options.hashingAlgorithm, options.maxBytes, options.limitMessage);
  // Errors are handled from the first byte on, even before the store starts
  // reading; the first one (e.g. the size limit) is the one reported.
  let sourceError: Error | null = null;
  pipeline(data, counter, (err) => {
    if (err) sourceError ??= err;
  });
  try {
    const stored = await store.add(imageId, counter, { signal: options.signal });
    return { location: stored.location, size: counter.bytes, ...counter.result() };
  } catch (err) {
    throw sourceError ?? err;
  }
}
