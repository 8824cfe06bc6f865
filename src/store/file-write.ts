/**
 * How file stores write a stream to a new file, with O_DIRECT where possible:
 * the bytes go from our buffer
 * to the device, skipping the page cache. On the machines Glimpse was
 * measured on, a buffered write of 1 GiB cost ~0.6-2.7 s of kernel CPU
 * (copying into and managing page-cache pages), a direct write ~0.2 s; for an
 * upload that also hashes every byte twice, that CPU is what the hashing
 * needs. Uploaded images are read back rarely and much later, so caching them
 * on the way in would only evict hotter pages.
 *
 * O_DIRECT wants the buffer's address, the file offset and the length aligned
 * to the device's block size. Node cannot ask for aligned memory, so the
 * aligned offset inside an allocation is found by asking the kernel (which
 * refuses a misaligned buffer with EINVAL); the last, partial block is written
 * zero-padded and the file then truncated to the exact size.
 */
import { constants } from 'node:fs';
import { type FileHandle, open, unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { leftBehind } from './leftovers.js';

/** Offsets and lengths are multiples of this (4 KiB covers 512 B and 4 KiB block devices). */
const ALIGN = 4096;
/** Each of the two buffers: one is written while the other fills. */
const BUFFER_SIZE = 1024 * 1024;

export interface FileWriteOptions {
  /** Try O_DIRECT first (`[glimpse] file_store_direct_io`). */
  direct: boolean;
  /** Leave runs of zeros as holes (`filesystem_thin_provisioning`): a buffer of zeros is skipped, not written. */
  thin: boolean;
  /** After a direct write, read what was written back into the page cache as the write goes on (see page-cache.ts). */
  cacheWritten?: boolean;
  signal?: AbortSignal;
}

/**
 * Creates `file` (which must not exist) and writes `data` into it, directly
 * where asked and the file system allows, else through the page cache (tmpfs
 * and some network file systems refuse O_DIRECT). Says which it did.
 */
export async function writeFile(file: string, data: Readable, o: FileWriteOptions): Promise<{ size: number; direct: boolean }> {
  const target = (o.direct && (await openDirect(file))) || { handle: await open(file, 'wx', 0o644), buffers: null };
  const handle = target.handle;
  let inFlight: Promise<unknown> = Promise.resolve();
  // Direct writes are on the device once they resolve: what lies behind the last one can be read back.
  const readBack = target.buffers && o.cacheWritten ? new ReadBack(file) : null;
  try {
    let [filling, spare] = target.buffers ?? [Buffer.allocUnsafe(BUFFER_SIZE), Buffer.allocUnsafe(BUFFER_SIZE)];
    let filled = 0;
    let position = 0;
    const flush = async (length: number) => {
      await inFlight;
      readBack?.written(position);
      if (!(o.thin && isZero(filling, length))) inFlight = handle.write(filling, 0, length, position);
      position += length;
      [filling, spare] = [spare, filling];
      filled = 0;
    };
    for await (const chunk of data as AsyncIterable<Buffer>) {
      o.signal?.throwIfAborted();
      for (let offset = 0; offset < chunk.length; ) {
        const n = chunk.copy(filling, filled, offset);
        offset += n;
        filled += n;
        if (filled === BUFFER_SIZE) await flush(BUFFER_SIZE);
      }
    }
    o.signal?.throwIfAborted();
    const size = position + filled;
    if (filled > 0) {
      // O_DIRECT writes whole blocks: the last one zero-padded, cut by the truncate below.
      const length = target.buffers ? Math.ceil(filled / ALIGN) * ALIGN : filled;
      filling.fill(0, filled, length);
      await flush(length);
    }
    await inFlight;
    await handle.truncate(size);
    readBack?.written(size, true);
    return { size, direct: target.buffers !== null };
  } finally {
    readBack?.finish();
    await inFlight.catch(() => undefined);
    await handle.close();
  }
}

/** Read back in steps this large: one step per 32 MiB written, not per buffer. */
const READ_BACK_STEP = 32 * 1024 * 1024;
const READ_BACK_PIECE = 4 * 1024 * 1024;

/**
 * A file written with O_DIRECT leaves nothing in the page cache, yet an
 * image is often read right after its upload (Nova boots it, Cinder
 * converts it). This reads what the direct writes have put on the device
 * back through an ordinary descriptor while the upload goes on, so that the
 * first download comes from memory as Glance's does. It costs a memory copy
 * and spare disk read bandwidth, on libuv's threads, not the upload's
 * hashing. (posix_fadvise WILLNEED would skip the copy, but the kernel
 * caps each call at the device's read-ahead window.)
 */
class ReadBack {
  private cached = 0;
  private chain: Promise<void> = Promise.resolve();
  /** Opened at once, while the file still has the name it is written under: the store renames it when the write ends. */
  private readonly reader: Promise<{ handle: FileHandle; buffer: Buffer }>;

  constructor(file: string) {
    this.reader = open(file, 'r').then((handle) => ({ handle, buffer: Buffer.allocUnsafe(READ_BACK_PIECE) }));
    this.reader.catch(() => undefined); // a failed read-back only means a colder download
  }

  /** Everything before `end` is on the device (`last`: and the file ends there). */
  written(end: number, last = false): void {
    if (end - this.cached >= READ_BACK_STEP || (last && end > this.cached)) this.readUpTo(end);
  }

  /**
   * Closes the descriptor once the reads queued so far are done, whether the
   * write succeeded or not. Not awaited by the upload: its answer does not
   * wait for the cache, and a failed read-back only means a colder download.
   */
  finish(): void {
    this.chain = this.chain.catch(() => undefined).then(async () => (await this.reader.catch(() => null))?.handle.close());
    this.chain.catch(() => undefined);
  }

  private readUpTo(end: number): void {
    const start = this.cached;
    this.cached = end;
    this.chain = this.chain.then(async () => {
      const { handle, buffer } = await this.reader;
      for (let at = start; at < end; at += READ_BACK_PIECE) await handle.read(buffer, 0, Math.min(READ_BACK_PIECE, end - at), at);
    });
  }
}

const ZEROS = Buffer.alloc(BUFFER_SIZE);

function isZero(buffer: Buffer, length: number): boolean {
  return buffer.subarray(0, length).equals(ZEROS.subarray(0, length));
}

/** The file opened with O_DIRECT and buffers the device accepts; null, having created nothing, where O_DIRECT is refused. */
async function openDirect(file: string): Promise<{ handle: FileHandle; buffers: [Buffer, Buffer] } | null> {
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT, 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
    // Some file systems (ramfs) create the file before refusing O_DIRECT;
    // O_EXCL means any file there now is the one this call created.
    await unlink(file).catch(leftBehind(`file ${file} of a refused direct write`));
    return null;
  }
  const buffers = await alignedBuffers(handle).catch(async (err: unknown) => {
    await handle.close();
    throw err;
  });
  if (buffers) return { handle, buffers };
  await handle.close();
  await unlink(file);
  return null;
}

/**
 * Two BUFFER_SIZE buffers at an address the device accepts, carved from one
 * allocation: the first offset (in steps of 16 bytes, V8's allocation
 * granularity) at which a one-block write succeeds. Null if none does.
 */
async function alignedBuffers(handle: FileHandle): Promise<[Buffer, Buffer] | null> {
  const memory = Buffer.alloc(2 * BUFFER_SIZE + ALIGN);
  for (let offset = 0; offset < ALIGN; offset += 16) {
    try {
      await handle.write(memory, offset, ALIGN, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EINVAL') continue;
      throw err;
    }
    return [memory.subarray(offset, offset + BUFFER_SIZE), memory.subarray(offset + BUFFER_SIZE, offset + 2 * BUFFER_SIZE)];
  }
  return null;
}
