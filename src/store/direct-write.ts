/**
 * Writes a stream to a new file with O_DIRECT: the bytes go from our buffer
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

/**
 * Creates `file` (which must not exist) and writes `data` into it directly.
 * Returns null, having created nothing, where the file system does not
 * support O_DIRECT (tmpfs, some network file systems): the caller then
 * writes through the page cache.
 */
export async function writeDirect(file: string, data: Readable, signal?: AbortSignal): Promise<number | null> {
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
  let inFlight: Promise<unknown> = Promise.resolve();
  try {
    const buffers = await alignedBuffers(handle);
    if (!buffers) {
      await unlink(file);
      return null;
    }
    let [filling, spare] = buffers;
    let filled = 0;
    let position = 0;
    const flush = async (length: number) => {
      await inFlight;
      inFlight = handle.write(filling, 0, length, position);
      position += length;
      [filling, spare] = [spare, filling];
      filled = 0;
    };
    for await (const chunk of data as AsyncIterable<Buffer>) {
      signal?.throwIfAborted();
      for (let offset = 0; offset < chunk.length; ) {
        const n = chunk.copy(filling, filled, offset);
        offset += n;
        filled += n;
        if (filled === BUFFER_SIZE) await flush(BUFFER_SIZE);
      }
    }
    signal?.throwIfAborted();
    const size = position + filled;
    if (filled > 0) {
      const padded = Math.ceil(filled / ALIGN) * ALIGN;
      filling.fill(0, filled, padded);
      await flush(padded);
    }
    await inFlight;
    await handle.truncate(size);
    return size;
  } finally {
    await inFlight.catch(() => undefined);
    await handle.close();
  }
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
